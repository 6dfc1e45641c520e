// Original file: proto/agent.proto


export interface CreateSnapshotRequest {
  'name'?: (string);
  'source_vg'?: (string);
  'source_lv'?: (string);
  'snapshot_reserve'?: (number);
}

export interface CreateSnapshotRequest__Output {
  'name': (string);
  'source_vg': (string);
  'source_lv': (string);
  'snapshot_reserve': (number);
}
