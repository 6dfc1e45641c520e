// Original file: proto/agent.proto


export interface GetInfoRequest {
}

export interface GetInfoRequest__Output {
}
