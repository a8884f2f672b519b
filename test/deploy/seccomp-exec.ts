/**
 * `bun seccomp-exec.ts POLICY.json PROGRAM [ARG…]`: loads the seccomp filters described in POLICY.json into
 * this process, then replaces itself with PROGRAM (execve), which inherits them, as a service does from
 * systemd. The filters are built with libseccomp, the library systemd itself builds SystemCallFilter=,
 * RestrictAddressFamilies= and the like with; test/deploy/systemd.test.ts turns the unit's directives into
 * the policy. Nothing here is systemd-specific: each filter is a default action plus rules, loaded in order,
 * and the kernel applies the strictest answer of all of them (seccomp(2)).
 *
 * Linux x86-64/arm64 only; needs libseccomp.so.2 and, when not root, no_new_privs set first (setpriv
 * --no-new-privs; libseccomp also sets it, SCMP_FLTATR_CTL_NNP defaults to on).
 */
import { dlopen, ptr } from "bun:ffi";
import { readFileSync } from "node:fs";

export type SeccompAction = "allow" | "kill-process" | { errno: number };
export type SeccompOp = "ne" | "lt" | "le" | "eq" | "ge" | "gt" | "masked-eq";
/** Argument `arg` (0-based) compared with `value`; for masked-eq: (argument & mask) == value. */
export interface SeccompCondition {
  arg: number;
  op: SeccompOp;
  value: number;
  mask?: number;
}
export interface SeccompRule {
  syscall: string;
  action: SeccompAction;
  /** All must hold (AND). */
  when?: SeccompCondition[];
}
export interface SeccompFilter {
  /** What the directive is, for messages. */
  name: string;
  defaultAction: SeccompAction;
  rules: SeccompRule[];
}
export interface SeccompPolicy {
  filters: SeccompFilter[];
}

// seccomp.h
const SCMP_ACT_KILL_PROCESS = 0x80000000;
const SCMP_ACT_ALLOW = 0x7fff0000;
const SCMP_ACT_ERRNO = 0x00050000;
const OPS: Record<SeccompOp, number> = { ne: 1, lt: 2, le: 3, eq: 4, ge: 5, gt: 6, "masked-eq": 7 };
/** struct scmp_arg_cmp { unsigned int arg; enum scmp_compare op; scmp_datum_t datum_a, datum_b; } */
const ARG_CMP_BYTES = 24;
const NR_SCMP_ERROR = -1;

function actionCode(action: SeccompAction): number {
  if (action === "allow") return SCMP_ACT_ALLOW;
  if (action === "kill-process") return SCMP_ACT_KILL_PROCESS;
  return SCMP_ACT_ERRNO | (action.errno & 0xffff);
}

const cstring = (text: string) => Buffer.from(`${text}\0`);

function main(argv: string[]): never {
  const [policyPath, program, ...args] = argv;
  if (!policyPath || !program) {
    console.error("usage: bun seccomp-exec.ts POLICY.json PROGRAM [ARG…]");
    process.exit(2);
  }
  const policy = JSON.parse(readFileSync(policyPath, "utf8")) as SeccompPolicy;
  const seccomp = dlopen("libseccomp.so.2", {
    seccomp_init: { args: ["u32"], returns: "ptr" },
    seccomp_syscall_resolve_name: { args: ["ptr"], returns: "i32" },
    seccomp_rule_add_array: { args: ["ptr", "u32", "i32", "u32", "ptr"], returns: "i32" },
    seccomp_load: { args: ["ptr"], returns: "i32" },
    seccomp_release: { args: ["ptr"], returns: "void" },
  }).symbols;
  const libc = dlopen("libc.so.6", { execve: { args: ["ptr", "ptr", "ptr"], returns: "i32" } }).symbols;

  // Everything allocated before the first filter is loaded: after it, only the filters' syscalls are allowed.
  const contexts = policy.filters.map((filter) => {
    const context = seccomp.seccomp_init(actionCode(filter.defaultAction));
    if (!context) throw new Error(`seccomp_init failed for ${filter.name}`);
    for (const rule of filter.rules) {
      const nr = seccomp.seccomp_syscall_resolve_name(cstring(rule.syscall));
      if (nr === NR_SCMP_ERROR) continue; // not a syscall of this architecture (systemd skips these too)
      const conditions = rule.when ?? [];
      const array = Buffer.alloc(Math.max(1, conditions.length) * ARG_CMP_BYTES);
      conditions.forEach((condition, index) => {
        const at = index * ARG_CMP_BYTES;
        array.writeUInt32LE(condition.arg, at);
        array.writeUInt32LE(OPS[condition.op], at + 4);
        const [a, b] = condition.op === "masked-eq" ? [condition.mask ?? 0, condition.value] : [condition.value, 0];
        array.writeBigUInt64LE(BigInt.asUintN(64, BigInt(a)), at + 8);
        array.writeBigUInt64LE(BigInt.asUintN(64, BigInt(b)), at + 16);
      });
      const result = seccomp.seccomp_rule_add_array(context, actionCode(rule.action), nr, conditions.length, array);
      // -EEXIST/-EACCES: a rule that the default action already gives, which libseccomp refuses; harmless.
      if (result !== 0 && result !== -17 && result !== -13) throw new Error(`${filter.name}: seccomp_rule_add ${rule.syscall} failed: ${result}`);
    }
    return { name: filter.name, context };
  });

  const path = cstring(program);
  const argvStrings = [program, ...args].map(cstring);
  const envStrings = Object.entries(process.env).map(([key, value]) => cstring(`${key}=${value}`));
  const pointers = (strings: Buffer[]) => new BigUint64Array([...strings.map((s) => BigInt(ptr(s))), 0n]);
  const argvArray = pointers(argvStrings);
  const envArray = pointers(envStrings);

  for (const { name, context } of contexts) {
    const result = seccomp.seccomp_load(context);
    if (result !== 0) {
      console.error(`seccomp-exec: loading ${name} failed: ${result}`);
      process.exit(126);
    }
  }
  const result = libc.execve(path, argvArray, envArray);
  console.error(`seccomp-exec: execve ${program} failed (${result})`);
  process.exit(127);
}

if (import.meta.main) main(process.argv.slice(2));
