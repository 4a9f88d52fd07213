// Errors that callers are expected to handle are returned as values, not
// thrown: a thrown error at the domain boundary always means "unexpected".
export type Result<T, E> = { ok: true; value: T } | { ok: false; error: E };

export function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

export function err<E>(error: E): { ok: false; error: E } {
  return { ok: false, error };
}
