// The one exception type used inside the interpreter and builtins. It never crosses the public API:
// evaluateProgram catches it and returns { ok: false, error }.

import { SluiceError } from '../../api/errors.ts';

export class ExprEvalError extends SluiceError {
  readonly position: number | undefined;
  constructor(message: string, position?: number) {
    super('SLUICE_EXPRESSION', message);
    this.name = 'ExprEvalError';
    this.position = position;
  }
}
