// Names and arities of the builtin functions, shared by the parser (which rejects unknown names and
// wrong argument counts at compile time, as expr's checker does) and the interpreter.

export interface FunctionSpec {
  readonly min: number;
  readonly max: number;
  /** Index of the argument written as a predicate (`{# > 1}` or `# > 1`), if any. */
  readonly predicate?: number;
}

const P = (min: number, max: number): FunctionSpec => ({ min, max, predicate: 1 });
const F = (min: number, max: number): FunctionSpec => ({ min, max });
const VARIADIC = 1_000;

// Deliberately parallel rows: a data table, one row per expr builtin (name, arity), to read against
// expr's builtin list; there is no logic here to share.
export const FUNCTIONS: ReadonlyMap<string, FunctionSpec> = new Map<string, FunctionSpec>([
  // predicates
  ['all', P(2, 2)],
  ['any', P(2, 2)],
  ['none', P(2, 2)],
  ['one', P(2, 2)],
  ['filter', P(2, 2)],
  ['map', P(2, 2)],
  ['count', P(1, 2)],
  ['sum', P(1, 2)],
  ['find', P(2, 2)],
  ['findIndex', P(2, 2)],
  ['findLast', P(2, 2)],
  ['findLastIndex', P(2, 2)],
  ['groupBy', P(2, 2)],
  ['sortBy', P(2, 3)],
  ['reduce', P(2, 3)],
  // collections and numbers
  ['len', F(1, 1)],
  ['max', F(1, VARIADIC)],
  ['min', F(1, VARIADIC)],
  ['mean', F(1, VARIADIC)],
  ['median', F(1, VARIADIC)],
  ['abs', F(1, 1)],
  ['ceil', F(1, 1)],
  ['floor', F(1, 1)],
  ['round', F(1, 1)],
  ['int', F(1, 1)],
  ['float', F(1, 1)],
  ['string', F(1, 1)],
  ['type', F(1, 1)],
  ['first', F(1, 1)],
  ['last', F(1, 1)],
  ['get', F(2, 2)],
  ['keys', F(1, 1)],
  ['values', F(1, 1)],
  ['toPairs', F(1, 1)],
  ['fromPairs', F(1, 1)],
  ['concat', F(1, VARIADIC)],
  ['flatten', F(1, 1)],
  ['uniq', F(1, 1)],
  ['reverse', F(1, 1)],
  ['sort', F(1, 2)],
  ['toJSON', F(1, 1)],
  ['fromJSON', F(1, 1)],
  // strings
  ['trim', F(1, 2)],
  ['trimPrefix', F(2, 2)],
  ['trimSuffix', F(2, 2)],
  ['upper', F(1, 1)],
  ['lower', F(1, 1)],
  ['split', F(2, 3)],
  ['splitAfter', F(2, 3)],
  ['replace', F(3, 3)],
  ['repeat', F(2, 2)],
  ['join', F(1, 2)],
  ['indexOf', F(2, 2)],
  ['lastIndexOf', F(2, 2)],
  ['hasPrefix', F(2, 2)],
  ['hasSuffix', F(2, 2)],
  // time
  ['now', F(0, 0)],
  ['duration', F(1, 1)],
  ['date', F(1, 1)],
  // Argo's environment (utils/evaluate/evaluate.go)
  ['asInt', F(1, 1)],
  ['asFloat', F(1, 1)],
  ['isNaN', F(1, 1)],
  ['isInf', F(1, 1)],
  ['isNil', F(1, 1)],
  ['default', F(2, 2)],
]);
