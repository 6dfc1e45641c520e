// Original file: proto/agent.proto

import type { Volume as _csilvmiscsi_agent_v1_Volume, Volume__Output as _csilvmiscsi_agent_v1_Volume__Output } from '../../../csilvmiscsi/agent/v1/Volume.js';

export interface MaybeVolume {
  'volume'?: (_csilvmiscsi_agent_v1_Volume | null);
}

export interface MaybeVolume__Output {
  'volume': (_csilvmiscsi_agent_v1_Volume__Output | null);
}
