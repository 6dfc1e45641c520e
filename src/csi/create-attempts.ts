/**
 * The storage node each CreateVolume name was last sent to by this controller
 * process, so a retry of a name whose agent has become unreachable answers
 * UNAVAILABLE instead of making a second volume elsewhere (the earlier
 * attempt may have made it there). In memory and bounded: a name sent by an
 * earlier controller process to an agent that is unreachable now is not
 * known (docs/security.md, "Availability").
 */
export class CreateAttempts {
  private readonly byName = new Map<string, string>();

  constructor(private readonly max = 10_000) {}

  /** Before the create is sent: name -> the agent's short node id. */
  note(name: string, nodeId: string): void {
    this.byName.delete(name);
    this.byName.set(name, nodeId);
    if (this.byName.size > this.max) {
      const oldest = this.byName.keys().next().value;
      if (oldest !== undefined) this.byName.delete(oldest);
    }
  }

  /** The agent answered that it made nothing (a refusal): the name is free again. */
  forget(name: string): void {
    this.byName.delete(name);
  }

  where(name: string): string | undefined {
    return this.byName.get(name);
  }
}
