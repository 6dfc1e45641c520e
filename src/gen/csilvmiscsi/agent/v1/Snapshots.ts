// Original file: proto/agent.proto

import type { Snapshot as _csilvmiscsi_agent_v1_Snapshot, Snapshot__Output as _csilvmiscsi_agent_v1_Snapshot__Output } from '../../../csilvmiscsi/agent/v1/Snapshot.js';

export interface Snapshots {
  'snapshots'?: (_csilvmiscsi_agent_v1_Snapshot)[];
}

export interface Snapshots__Output {
  'snapshots': (_csilvmiscsi_agent_v1_Snapshot__Output)[];
}
