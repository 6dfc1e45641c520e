// Original file: proto/agent.proto


export interface Empty {
}

export interface Empty__Output {
}
