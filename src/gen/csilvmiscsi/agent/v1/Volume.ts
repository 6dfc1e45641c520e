// Original file: proto/agent.proto

import type { VolumeParams as _csilvmiscsi_agent_v1_VolumeParams, VolumeParams__Output as _csilvmiscsi_agent_v1_VolumeParams__Output } from '../../../csilvmiscsi/agent/v1/VolumeParams.js';
import type { SourceRef as _csilvmiscsi_agent_v1_SourceRef, SourceRef__Output as _csilvmiscsi_agent_v1_SourceRef__Output } from '../../../csilvmiscsi/agent/v1/SourceRef.js';
import type { Publication as _csilvmiscsi_agent_v1_Publication, Publication__Output as _csilvmiscsi_agent_v1_Publication__Output } from '../../../csilvmiscsi/agent/v1/Publication.js';
import type { Long } from '@grpc/proto-loader';

export interface Volume {
  'id'?: (string);
  'name'?: (string);
  'vg'?: (string);
  'lv'?: (string);
  'size_bytes'?: (number | string | Long);
  'params'?: (_csilvmiscsi_agent_v1_VolumeParams | null);
  'source'?: (_csilvmiscsi_agent_v1_SourceRef | null);
  'created_at_ms'?: (number | string | Long);
  'state'?: (string);
  'active'?: (boolean);
  'partial'?: (boolean);
  'device_path'?: (string);
  'snapshot_count'?: (number);
  'published'?: (_csilvmiscsi_agent_v1_Publication)[];
}

export interface Volume__Output {
  'id': (string);
  'name': (string);
  'vg': (string);
  'lv': (string);
  'size_bytes': (string);
  'params': (_csilvmiscsi_agent_v1_VolumeParams__Output | null);
  'source': (_csilvmiscsi_agent_v1_SourceRef__Output | null);
  'created_at_ms': (string);
  'state': (string);
  'active': (boolean);
  'partial': (boolean);
  'device_path': (string);
  'snapshot_count': (number);
  'published': (_csilvmiscsi_agent_v1_Publication__Output)[];
}
