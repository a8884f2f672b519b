import { describe, expect, test } from "bun:test";
import { formatPath } from "../../src/schema/errors.ts";
import { expandString, expandTree, type ExpandContext } from "../../src/config/expand.ts";

function context(env: Record<string, string | undefined>, files: Record<string, string> = {}): ExpandContext {
  return {
    env,
    readFile(path) {
      const content = files[path];
      if (content === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: "ENOENT" });
      return content;
    },
  };
}

function expand(text: string, env: Record<string, string | undefined> = {}, files: Record<string, string> = {}) {
  return expandString(text, context(env, files));
}

describe("expandString", () => {
  test("plain text passes through, a lone $ too", () => {
    expect(expand("no references, $5 and $HOME")).toEqual({ value: "no references, $5 and $HOME", problems: [] });
  });

  test("${NAME} takes the variable; set but empty is empty", () => {
    expect(expand("Bearer ${TOKEN}", { TOKEN: "abc" }).value).toBe("Bearer abc");
    expect(expand("[${EMPTY}]", { EMPTY: "" })).toEqual({ value: "[]", problems: [] });
  });

  test("${NAME:-default} uses the default when unset or empty, and the default may be empty", () => {
    expect(expand("${PORT:-8080}").value).toBe("8080");
    expect(expand("${PORT:-8080}", { PORT: "" }).value).toBe("8080");
    expect(expand("${PORT:-8080}", { PORT: "9090" }).value).toBe("9090");
    expect(expand("${PAT:-}")).toEqual({ value: "", problems: [] });
    expect(expand("${URL:-http://localhost:5000/a}").value).toBe("http://localhost:5000/a");
  });

  test("a missing variable without a default is an error naming it, never an empty string", () => {
    expect(expand("${PAT}")).toEqual({
      value: "",
      problems: ["environment variable PAT is not set (set it, or write ${PAT:-} for an empty default)"],
    });
    expect(expand("${A}-${B}", { A: "a" }).problems).toEqual([
      "environment variable B is not set (set it, or write ${B:-} for an empty default)",
    ]);
  });

  test("${file:/path} reads the file and trims one trailing newline", () => {
    const files = { "/run/secrets/pat": "s3cret\n\n", "/run/secrets/crlf": "tok\r\n" };
    expect(expand("${file:/run/secrets/pat}", {}, files).value).toBe("s3cret\n");
    expect(expand("${file:/run/secrets/crlf}", {}, files).value).toBe("tok");
  });

  test("the file path expands the environment first (systemd credentials)", () => {
    const env = { CREDENTIALS_DIRECTORY: "/run/credentials/gitops-connector.service" };
    const files = { "/run/credentials/gitops-connector.service/pat": "cred-token\n" };
    expect(expand("${file:${CREDENTIALS_DIRECTORY}/pat}", env, files)).toEqual({ value: "cred-token", problems: [] });
  });

  test("a missing file is an error naming the file; an unset variable in its path names the variable", () => {
    expect(expand("${file:/run/secrets/none}").problems).toEqual([
      "cannot read file /run/secrets/none named in ${file:…}: it does not exist",
    ]);
    expect(expand("${file:${CREDENTIALS_DIRECTORY}/pat}").problems).toEqual([
      "environment variable CREDENTIALS_DIRECTORY is not set (set it, or write ${CREDENTIALS_DIRECTORY:-} for an empty default)",
    ]);
  });

  test("defaults may hold references, evaluated only when needed", () => {
    const files = { "/run/secrets/pat": "from-file" };
    expect(expand("${PAT:-${file:/run/secrets/pat}}", {}, files).value).toBe("from-file");
    expect(expand("${PAT:-${file:/does/not/exist}}", { PAT: "from-env" })).toEqual({ value: "from-env", problems: [] });
  });

  test("$${ escapes a literal ${", () => {
    expect(expand("$${NOT_EXPANDED} and ${X}", { X: "x" }).value).toBe("${NOT_EXPANDED} and x");
    expect(expand("${X:-$${}", {}).value).toBe("${");
  });

  test("malformed references are errors that say how to write a literal", () => {
    expect(expand("${UNCLOSED").problems[0]).toContain("never closed");
    expect(expand("${1X}").problems[0]).toContain("write $${ for a literal ${");
    expect(expand("${X:=y}").problems[0]).toBe("${X… must be ${X} or ${X:-default}");
  });

  test("expanded values are not expanded again", () => {
    expect(expand("${A}", { A: "${B}", B: "b" }).value).toBe("${B}");
  });
});

describe("expandTree", () => {
  test("expands every string value, leaves keys and other scalars alone, and reports paths", () => {
    const tree = {
      server: { port: "${PORT:-8080}", host: "0.0.0.0" },
      "${KEY}": "kept key",
      instances: [{ name: "apps-dev", pat: "${PAT}", default: true, completionReconcilers: ["${GLOB}"] }],
    };
    const { value, errors } = expandTree(tree, context({ GLOB: "kustomization/*" }));
    expect(value).toEqual({
      server: { port: "8080", host: "0.0.0.0" },
      "${KEY}": "kept key",
      instances: [{ name: "apps-dev", pat: "${PAT}", default: true, completionReconcilers: ["kustomization/*"] }],
    });
    expect(errors.map((error) => `${formatPath(error.path)}: ${error.message}`)).toEqual([
      "instances[0].pat: environment variable PAT is not set (set it, or write ${PAT:-} for an empty default)",
    ]);
  });

  test("an expanded value cannot inject structure", () => {
    const { value } = expandTree({ a: "${X}" }, context({ X: "b: c\nd: [e]" }));
    expect(value).toEqual({ a: "b: c\nd: [e]" });
  });

  test("a __proto__ key stays a plain key", () => {
    const tree = JSON.parse('{"__proto__": {"polluted": "${X:-yes}"}}') as unknown;
    const { value } = expandTree(tree, context({}));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(value as object)).toEqual(["__proto__"]);
  });
});
