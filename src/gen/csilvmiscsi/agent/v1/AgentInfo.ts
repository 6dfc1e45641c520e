// Original file: proto/agent.proto


export interface AgentInfo {
  'node_name'?: (string);
  'node_id'?: (string);
  'volume_groups'?: (string)[];
  'thin_pool_vgs'?: (string)[];
}

export interface AgentInfo__Output {
  'node_name': (string);
  'node_id': (string);
  'volume_groups': (string)[];
  'thin_pool_vgs': (string)[];
}
