// Original file: proto/agent.proto


export interface SourceRef {
  'kind'?: (string);
  'id'?: (string);
}

export interface SourceRef__Output {
  'kind': (string);
  'id': (string);
}
