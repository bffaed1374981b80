// The compiled form of a condition: a plain, immutable tree of nodes. Every node carries `pos`, the
// 0-based character offset in the source that errors point at (expr reports the operator's token for
// binary nodes and the property token for member access, and so do we).

import type { CompiledRegex } from './re2.ts';
export type BinaryOp =
  | '||'
  | '&&'
  | '=='
  | '!='
  | '<'
  | '<='
  | '>'
  | '>='
  | 'in'
  | 'matches'
  | 'contains'
  | 'startsWith'
  | 'endsWith'
  | '..'
  | '+'
  | '-'
  | '*'
  | '/'
  | '%'
  | '**'
  | '??';

export type UnaryOp = '-' | '+' | '!';

export type PointerName = '' | 'index' | 'acc';

export type Node =
  | { readonly k: 'nil'; readonly pos: number }
  | { readonly k: 'bool'; readonly pos: number; readonly v: boolean }
  | { readonly k: 'num'; readonly pos: number; readonly v: number }
  | { readonly k: 'str'; readonly pos: number; readonly v: string }
  | { readonly k: 'ident'; readonly pos: number; readonly name: string }
  /** `#`, `#index`, `#acc` (and the implicit `#` of `.field` inside a predicate). */
  | { readonly k: 'pointer'; readonly pos: number; readonly name: PointerName }
  | { readonly k: 'unary'; readonly pos: number; readonly op: UnaryOp; readonly x: Node }
  /** `negate` is set for `not in`, `not matches`, ... */
  | {
      readonly k: 'binary';
      readonly pos: number;
      readonly op: BinaryOp;
      readonly l: Node;
      readonly r: Node;
      readonly negate: boolean;
      /** Precompiled when the pattern of `matches` is a string literal. */
      readonly re?: CompiledRegex;
    }
  | {
      readonly k: 'member';
      readonly pos: number;
      readonly obj: Node;
      readonly prop: Node;
      readonly optional: boolean;
    }
  | {
      readonly k: 'slice';
      readonly pos: number;
      readonly obj: Node;
      readonly from: Node | undefined;
      readonly to: Node | undefined;
    }
  /** Wraps a postfix chain that contains `?.`: a nil before any `?.` ends the whole chain with nil. */
  | { readonly k: 'chain'; readonly pos: number; readonly x: Node }
  | { readonly k: 'call'; readonly pos: number; readonly name: string; readonly args: readonly Node[] }
  | {
      readonly k: 'method';
      readonly pos: number;
      readonly obj: Node;
      readonly name: string;
      readonly args: readonly Node[];
      readonly optional: boolean;
    }
  | { readonly k: 'cond'; readonly pos: number; readonly c: Node; readonly a: Node; readonly b: Node }
  | { readonly k: 'array'; readonly pos: number; readonly items: readonly Node[] }
  | {
      readonly k: 'map';
      readonly pos: number;
      /** Keys are `str` nodes for `a:`/`"a":`/`1:` and any expression for `(expr):`. */
      readonly entries: readonly (readonly [key: Node, value: Node])[];
    }
  | { readonly k: 'closure'; readonly pos: number; readonly body: Node };

export type NodeOf<K extends Node['k']> = Extract<Node, { k: K }>;
