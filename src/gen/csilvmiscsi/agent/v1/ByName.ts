// Original file: proto/agent.proto


export interface ByName {
  'name'?: (string);
}

export interface ByName__Output {
  'name': (string);
}
