/**
 * iscsiadm exit codes, from open-iscsi include/iscsi_err.h (the numbers are
 * part of open-iscsi's interface and have not changed since 2.0-872), and
 * which of them a caller may retry.
 */

export const ISCSI_ERR = {
  SUCCESS: 0,
  GENERIC: 1,
  SESS_NOT_FOUND: 2,
  NOMEM: 3,
  TRANS: 4,
  LOGIN: 5,
  IDBM: 6,
  INVAL: 7,
  TRANS_TIMEOUT: 8,
  INTERNAL: 9,
  LOGOUT: 10,
  PDU_TIMEOUT: 11,
  TRANS_NOT_FOUND: 12,
  ACCESS: 13,
  TRANS_CAPS: 14,
  /** Session is logged in: a second login of the same node. */
  SESS_EXISTS: 15,
  INVALID_MGMT_REQ: 16,
  ISNS_UNAVAILABLE: 17,
  ISCSID_COMM_ERR: 18,
  /** Fatal login error: the target answered with a login reject that retrying will not change. */
  FATAL_LOGIN: 19,
  ISCSID_NOTCONN: 20,
  /** No records/targets/sessions/portals found to execute the operation on. */
  NO_OBJS_FOUND: 21,
  SYSFS_LOOKUP: 22,
  HOST_NOT_FOUND: 23,
  /** Login failed due to authorization failure (CHAP refused, or no ACL for this initiator). */
  LOGIN_AUTH_FAILED: 24,
  ISNS_QUERY: 25,
  ISNS_REG_FAILED: 26,
  OP_NOT_SUPP: 27,
  BUSY: 28,
} as const;

/**
 * Login failures worth another attempt: the portal is unreachable or slow,
 * iscsid is busy or restarting. Everything else (auth, fatal login, invalid
 * arguments, no node record, missing transport) fails at once.
 */
export const RETRYABLE_LOGIN_EXIT_CODES: ReadonlySet<number> = new Set([
  ISCSI_ERR.GENERIC,
  ISCSI_ERR.TRANS,
  ISCSI_ERR.LOGIN,
  ISCSI_ERR.TRANS_TIMEOUT,
  ISCSI_ERR.INTERNAL,
  ISCSI_ERR.PDU_TIMEOUT,
  ISCSI_ERR.ISCSID_COMM_ERR,
  ISCSI_ERR.ISCSID_NOTCONN,
  ISCSI_ERR.BUSY,
]);

/** True when iscsiadm's message says the target refused the initiator's credentials or identity. */
export function saysAuthFailure(stderr: string): boolean {
  return /authori[sz]ation failure|authentication fail/i.test(stderr);
}
