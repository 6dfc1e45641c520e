// Original file: proto/agent.proto


export interface ListRequest {
}

export interface ListRequest__Output {
}
