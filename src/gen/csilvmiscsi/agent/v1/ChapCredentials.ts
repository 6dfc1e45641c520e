// Original file: proto/agent.proto


export interface ChapCredentials {
  'userid'?: (string);
  'password'?: (string);
  'mutual_userid'?: (string);
  'mutual_password'?: (string);
}

export interface ChapCredentials__Output {
  'userid': (string);
  'password': (string);
  'mutual_userid': (string);
  'mutual_password': (string);
}
