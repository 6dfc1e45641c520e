// Original file: proto/agent.proto

import type { VolumeParams as _csilvmiscsi_agent_v1_VolumeParams, VolumeParams__Output as _csilvmiscsi_agent_v1_VolumeParams__Output } from '../../../csilvmiscsi/agent/v1/VolumeParams.js';
import type { SourceRef as _csilvmiscsi_agent_v1_SourceRef, SourceRef__Output as _csilvmiscsi_agent_v1_SourceRef__Output } from '../../../csilvmiscsi/agent/v1/SourceRef.js';
import type { Long } from '@grpc/proto-loader';

export interface CreateVolumeRequest {
  'name'?: (string);
  'params'?: (_csilvmiscsi_agent_v1_VolumeParams | null);
  'source'?: (_csilvmiscsi_agent_v1_SourceRef | null);
  'required_bytes'?: (number | string | Long);
  'limit_bytes'?: (number | string | Long);
  'default_bytes'?: (number | string | Long);
}

export interface CreateVolumeRequest__Output {
  'name': (string);
  'params': (_csilvmiscsi_agent_v1_VolumeParams__Output | null);
  'source': (_csilvmiscsi_agent_v1_SourceRef__Output | null);
  'required_bytes': (string);
  'limit_bytes': (string);
  'default_bytes': (string);
}
