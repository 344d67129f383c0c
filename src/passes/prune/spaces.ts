/**
 * Channel spaces: the sets of channel indices that structured pruning removes together.
 *
 * Every op that chooses its own channel count (a Conv's output channels, a linear layer's output
 * columns) creates a space. Ops that tie two spaces together (a residual Add, Q·Kᵀ sharing heads)
 * unite them, and ops that regroup channels (a Flatten turning channel c into features c·HW..c·HW+HW-1,
 * a Reshape splitting 64 columns into 4 heads of 16) unite them with a factor:
 *
 *   A = B ⊗ f   means   channel a of A belongs to channel floor(a / f) of B,
 *
 * so A has f times as many channels as B and removing channel b of B removes A's channels b·f..b·f+f-1.
 * The union-find keeps, for every space, the factor relative to its parent; the root of a group is
 * its coarsest space, and its channels are the units the group is pruned by (one head, one filter).
 */

/** Where a space comes from: cut points are recorded per origin, so a re-analysis can split it. */
export interface SpaceOrigin {
  /** Stable across analysis rounds: node index and role, e.g. "12:out". */
  readonly key: string;
  /** First channel of the origin this space covers. */
  readonly start: number;
  /** Spaces made by producers can be cut; derived ones (Flatten, Reshape) cannot. */
  readonly primary: boolean;
}

export class SpaceSet {
  private readonly parent: number[] = [];
  /** size(space) = size(parent) * factor */
  private readonly factor: number[] = [];
  readonly sizes: number[] = [];
  readonly origins: SpaceOrigin[] = [];
  /** Reasons a space (and so its whole group) must not be pruned. */
  private readonly blockers = new Map<number, string[]>();

  get count(): number {
    return this.sizes.length;
  }

  create(size: number, origin: SpaceOrigin): number {
    const id = this.sizes.length;
    this.parent.push(id);
    this.factor.push(1);
    this.sizes.push(size);
    this.origins.push(origin);
    return id;
  }

  /** The group's root and this space's factor relative to it (space = root ⊗ factor). */
  find(space: number): { root: number; factor: number } {
    let factor = 1;
    let s = space;
    while (this.parent[s] !== s) {
      factor *= this.factor[s];
      s = this.parent[s];
    }
    this.compress(space, s, factor);
    return { root: s, factor };
  }

  /** Points every space on the path straight at the root, keeping factors consistent. */
  private compress(space: number, root: number, total: number): void {
    let s = space;
    let factor = total;
    while (this.parent[s] !== s) {
      const next = this.parent[s];
      const own = this.factor[s];
      this.parent[s] = root;
      this.factor[s] = factor;
      factor /= own;
      s = next;
    }
  }

  /**
   * Records a = b ⊗ f. Returns undefined on success, or why the two cannot be tied (their groups
   * already relate them differently, or the block sizes do not nest).
   */
  unite(a: number, b: number, f = 1): string | undefined {
    const ra = this.find(a);
    const rb = this.find(b);
    const target = rb.factor * f; // a = rB ⊗ target, and a = rA ⊗ ra.factor
    if (ra.root === rb.root) return ra.factor === target ? undefined : 'channels are tied to each other in two inconsistent ways';
    if (target % ra.factor === 0) return this.attach(ra.root, rb.root, target / ra.factor);
    if (ra.factor % target === 0) return this.attach(rb.root, ra.root, ra.factor / target);
    return `channel blocks of ${ra.factor} and ${target} do not nest`;
  }

  private attach(child: number, root: number, factor: number): undefined {
    this.parent[child] = root;
    this.factor[child] = factor;
    const moved = this.blockers.get(child);
    if (moved) {
      this.blockers.delete(child);
      this.blockersOf(root).push(...moved);
    }
    return undefined;
  }

  private blockersOf(root: number): string[] {
    let list = this.blockers.get(root);
    if (!list) {
      list = [];
      this.blockers.set(root, list);
    }
    return list;
  }

  block(space: number, reason: string): void {
    const list = this.blockersOf(this.find(space).root);
    if (!list.includes(reason)) list.push(reason);
  }

  /** Why the group of this space cannot be pruned (empty when it can). */
  reasons(space: number): readonly string[] {
    return this.blockers.get(this.find(space).root) ?? [];
  }

  /** Root units of the group, i.e. the root's channel count. */
  units(space: number): number {
    return this.sizes[this.find(space).root];
  }
}
