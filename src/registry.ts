// A named registry of plug-ins (search strategies, attacks, experiment recipes): a plug-in
// registers itself when its module is imported, and the CLI lists and finds it by name.

export class Registry<T extends { readonly name: string }> {
  private readonly entries = new Map<string, T>();

  constructor(private readonly kind: string) {}

  add(s: T): void {
    if (!/^[a-z][a-z0-9-]*$/.test(s.name)) throw new Error(`${this.kind} name '${s.name}': lower-case letters, digits and '-' only`);
    const known = this.entries.get(s.name);
    if (known && known !== s) throw new Error(`${this.kind} '${s.name}' is registered already`);
    this.entries.set(s.name, s);
  }

  get(name: string): T {
    const s = this.entries.get(name);
    if (!s) throw new Error(`unknown ${this.kind} '${name}'; known: ${this.names().join(', ')}`);
    return s;
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  all(): T[] {
    return [...this.entries.values()];
  }
}
