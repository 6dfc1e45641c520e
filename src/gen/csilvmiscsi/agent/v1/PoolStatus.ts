// Original file: proto/agent.proto

import type { ThinPoolStatus as _csilvmiscsi_agent_v1_ThinPoolStatus, ThinPoolStatus__Output as _csilvmiscsi_agent_v1_ThinPoolStatus__Output } from '../../../csilvmiscsi/agent/v1/ThinPoolStatus.js';
import type { Long } from '@grpc/proto-loader';

export interface PoolStatus {
  'vg'?: (string);
  'vg_size_bytes'?: (number | string | Long);
  'vg_free_bytes'?: (number | string | Long);
  'extent_bytes'?: (number | string | Long);
  'pv_count'?: (number);
  'thin_pool'?: (_csilvmiscsi_agent_v1_ThinPoolStatus | null);
}

export interface PoolStatus__Output {
  'vg': (string);
  'vg_size_bytes': (string);
  'vg_free_bytes': (string);
  'extent_bytes': (string);
  'pv_count': (number);
  'thin_pool': (_csilvmiscsi_agent_v1_ThinPoolStatus__Output | null);
}
