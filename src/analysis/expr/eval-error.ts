// The one exception type used inside the interpreter and builtins. It never crosses the public API:
// evaluateProgram catches it and returns { ok: false, error }.

export class ExprEvalError extends Error {
  readonly position: number | undefined;
  constructor(message: string, position?: number) {
    super(message);
    this.name = 'ExprEvalError';
    this.position = position;
  }
}
