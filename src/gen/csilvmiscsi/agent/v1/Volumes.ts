// Original file: proto/agent.proto

import type { Volume as _csilvmiscsi_agent_v1_Volume, Volume__Output as _csilvmiscsi_agent_v1_Volume__Output } from '../../../csilvmiscsi/agent/v1/Volume.js';

export interface Volumes {
  'volumes'?: (_csilvmiscsi_agent_v1_Volume)[];
}

export interface Volumes__Output {
  'volumes': (_csilvmiscsi_agent_v1_Volume__Output)[];
}
