import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { editManifest, MarkerError, type ImageUpdate } from "../../src/promotion/edit-manifest.ts";

const FIXTURES = join(import.meta.dir, "..", "fixtures", "promotion");
const WEB: ImageUpdate = { group: "apps", app: "web", tag: "v2.0.0" };

function edited(text: string, update: ImageUpdate = WEB): string {
  const result = editManifest(text, update);
  if (result.kind !== "edited") throw new Error(`expected an edit, got ${result.kind}`);
  return result.text;
}

describe("editManifest on the shapes of Flux's image-automation tests", () => {
  for (const name of readdirSync(join(FIXTURES, "original"))) {
    test(`${name}: exactly the marked scalars change, byte for byte elsewhere`, () => {
      const original = readFileSync(join(FIXTURES, "original", name), "utf8");
      const expected = readFileSync(join(FIXTURES, "expected", name), "utf8");
      expect(edited(original)).toBe(expected);
    });
  }

  test("a marker inside a literal block is content, not a comment: left alone", () => {
    const text = readFileSync(join(FIXTURES, "original", "kustomization.yml"), "utf8");
    const result = editManifest(text, WEB);
    expect(result.kind).toBe("edited");
    if (result.kind === "edited") expect(result.changes).toEqual([{ line: 9, field: "tag", from: "v1", to: "v2.0.0" }]);
  });
});

describe("editManifest keeps every other byte", () => {
  test("CRLF line ends and a BOM", () => {
    const text = "\uFEFFimage: web:v1 # {\"$imagepolicy\": \"apps:web\"}\r\nother: x\r\n";
    expect(edited(text)).toBe("\uFEFFimage: web:v2.0.0 # {\"$imagepolicy\": \"apps:web\"}\r\nother: x\r\n");
  });

  test("no newline at the end of the file", () => {
    expect(edited("tag: v1 # {\"$imagepolicy\": \"apps:web:tag\"}")).toBe("tag: v2.0.0 # {\"$imagepolicy\": \"apps:web:tag\"}");
  });

  test("single quotes stay single, with '' escaping", () => {
    expect(edited("tag: 'v1' # {\"$imagepolicy\": \"apps:web:tag\"}\n", { ...WEB, tag: "it's" })).toBe("tag: 'it''s' # {\"$imagepolicy\": \"apps:web:tag\"}\n");
  });

  test("double quotes stay double", () => {
    expect(edited("tag: \"v1\" # {\"$imagepolicy\": \"apps:web:tag\"}\n")).toBe("tag: \"v2.0.0\" # {\"$imagepolicy\": \"apps:web:tag\"}\n");
  });

  test("an item of a flow sequence written over lines, its marker after it", () => {
    expect(edited("images: [web:v1, # {\"$imagepolicy\": \"apps:web\"}\n  other:v1]\n")).toBe("images: [web:v2.0.0, # {\"$imagepolicy\": \"apps:web\"}\n  other:v1]\n");
  });

  test("a comment after a whole flow sequence marks none of its items (as in Flux)", () => {
    expect(editManifest("images: [web:v1, other:v1] # {\"$imagepolicy\": \"apps:web\"}\n", WEB)).toEqual({ kind: "no-marker" });
  });
});

describe("editManifest quotes a plain value that would change type", () => {
  for (const tag of ["1234", "on", "off", "yes", "no", "1e3", "0x1f", "1_000", "null", "true", "012", "1:20", "2001-12-14", "~"]) {
    test(`${tag} → "${tag}"`, () => {
      expect(edited("tag: v1 # {\"$imagepolicy\": \"apps:web:tag\"}\n", { ...WEB, tag })).toBe(`tag: "${tag}" # {"$imagepolicy": "apps:web:tag"}\n`);
    });
  }

  for (const tag of ["v1.2.3", "1.2.3-rc.1", "26f50d84db02", "main-abc1234", "latest"]) {
    test(`${tag} stays plain`, () => {
      expect(edited("tag: v1 # {\"$imagepolicy\": \"apps:web:tag\"}\n", { ...WEB, tag })).toBe(`tag: ${tag} # {"$imagepolicy": "apps:web:tag"}\n`);
    });
  }

  test("a whole image whose tag is all digits stays plain: the value is text either way", () => {
    expect(edited("image: web:v1 # {\"$imagepolicy\": \"apps:web\"}\n", { ...WEB, tag: "1234" })).toBe("image: web:1234 # {\"$imagepolicy\": \"apps:web\"}\n");
  });
});

describe("editManifest applies each marker's field", () => {
  test("whole image: the repository kept (registry port too), the tag set, a stale digest dropped", () => {
    expect(edited("image: host:5000/org/web:v1@sha256:" + "a".repeat(64) + " # {\"$imagepolicy\": \"apps:web\"}\n")).toBe(
      "image: host:5000/org/web:v2.0.0 # {\"$imagepolicy\": \"apps:web\"}\n",
    );
  });

  test("whole image without a tag gets one", () => {
    expect(edited("image: host:5000/org/web # {\"$imagepolicy\": \"apps:web\"}\n")).toBe("image: host:5000/org/web:v2.0.0 # {\"$imagepolicy\": \"apps:web\"}\n");
  });

  test("whole image with --digest pins it", () => {
    const digest = `sha256:${"b".repeat(64)}`;
    expect(edited("image: web:v1 # {\"$imagepolicy\": \"apps:web\"}\n", { ...WEB, digest })).toBe(`image: web:v2.0.0@${digest} # {"$imagepolicy": "apps:web"}\n`);
  });

  test(":digest writes --digest, and without one is an error naming the app", () => {
    const text = "newDigest: sha256:1 # {\"$imagepolicy\": \"apps:web:digest\"}\n";
    const digest = `sha256:${"c".repeat(64)}`;
    expect(edited(text, { ...WEB, digest })).toBe(`newDigest: ${digest} # {"$imagepolicy": "apps:web:digest"}\n`);
    expect(() => editManifest(text, WEB)).toThrow("a :digest marker for apps:web needs --digest");
  });

  test(":name is left as it is", () => {
    expect(editManifest("newName: ghcr.io/org/web # {\"$imagepolicy\": \"apps:web:name\"}\n", WEB)).toEqual({ kind: "unchanged", markers: 1 });
  });

  test("already at the tag: unchanged", () => {
    expect(editManifest("tag: v2.0.0 # {\"$imagepolicy\": \"apps:web:tag\"}\n", WEB)).toEqual({ kind: "unchanged", markers: 1 });
  });

  test("another app's marker, a marker with trailing text, an unknown field: no marker", () => {
    expect(editManifest("tag: v1 # {\"$imagepolicy\": \"apps:api:tag\"}\n", WEB)).toEqual({ kind: "no-marker" });
    expect(editManifest("tag: v1 # {\"$imagepolicy\": \"apps:web:tag\"} keep\n", WEB)).toEqual({ kind: "no-marker" });
    expect(editManifest("tag: v1 # {\"$imagepolicy\": \"apps:web:other\"}\n", WEB)).toEqual({ kind: "no-marker" });
  });

  test("a file that does not parse is reported, not edited", () => {
    const result = editManifest("a: [\nimage: web:v1 # {\"$imagepolicy\": \"apps:web\"}\n", WEB);
    expect(result.kind).toBe("unparsable");
  });
});

describe("editManifest refuses what it cannot edit by bytes", () => {
  test("a block scalar", () => {
    expect(() => editManifest("image: | # {\"$imagepolicy\": \"apps:web\"}\n  web:v1\n", WEB)).toThrow(/line 1: .*block scalar/);
  });
  test("an alias", () => {
    expect(() => editManifest("a: &x v1\ntag: *x # {\"$imagepolicy\": \"apps:web:tag\"}\n", WEB)).toThrow(/line 2: .*alias \(\*x\)/);
  });
  test("a tagged value", () => {
    expect(() => editManifest("tag: !!str v1 # {\"$imagepolicy\": \"apps:web:tag\"}\n", WEB)).toThrow(/tagged value/);
  });
  test("a value that is not text", () => {
    expect(() => editManifest("tag: 1234 # {\"$imagepolicy\": \"apps:web:tag\"}\n", WEB)).toThrow(MarkerError);
  });
});

/** A small deterministic generator, so a failing seed can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe("fuzz: random YAML with markers", () => {
  const WORDS = ["alpha", "beta", "on", "1234", "v1.0", "x: y", "# not", "'q'", "a\"b", "- item", "0x1f", "null"];
  const FIELDS = ["", ":tag", ":name"];

  function scalar(next: () => number, text: string): string {
    const style = Math.floor(next() * 3);
    if (style === 0) return JSON.stringify(text);
    if (style === 1) return `'${text.replaceAll("'", "''")}'`;
    return /^[a-z][a-z0-9.]*$/.test(text) ? text : JSON.stringify(text);
  }

  function document(next: () => number, depth: number, indent: string, lines: string[]): void {
    const keys = 1 + Math.floor(next() * 4);
    for (let k = 0; k < keys; k += 1) {
      const key = `k${k}`;
      const roll = next();
      if (roll < 0.2 && depth < 3) {
        lines.push(`${indent}${key}:`);
        document(next, depth + 1, `${indent}  `, lines);
      } else if (roll < 0.35) {
        lines.push(`${indent}${key}: |`, `${indent}  image: web:v1 # {"$imagepolicy": "apps:web"}`);
      } else if (roll < 0.5) {
        lines.push(`${indent}${key}:`, `${indent}  - ${scalar(next, `web:v${k}`)} # {"$imagepolicy": "apps:web"}`, `${indent}  - plain`);
      } else if (roll < 0.75) {
        const field = FIELDS[Math.floor(next() * FIELDS.length)]!;
        const value = field === "" ? `ghcr.io/org/web:v${k}` : field === ":tag" ? `v${k}` : "ghcr.io/org/web";
        lines.push(`${indent}${key}: ${scalar(next, value)} # {"$imagepolicy": "apps:${next() < 0.8 ? "web" : "api"}${field}"}`);
      } else {
        lines.push(`${indent}${key}: ${scalar(next, WORDS[Math.floor(next() * WORDS.length)]!)}${next() < 0.3 ? " # a comment" : ""}`);
      }
    }
  }

  test("500 files: the edit re-parses and differs from the input only at the markers", () => {
    const TAGS = ["v9.9.9", "1234", "on", "it's", "0x1f", "release-7"];
    let editedFiles = 0;
    for (let seed = 1; seed <= 500; seed += 1) {
      const next = random(seed);
      const lines: string[] = [];
      const documents = 1 + Math.floor(next() * 3);
      for (let d = 0; d < documents; d += 1) {
        if (d > 0) lines.push("---");
        document(next, 0, "", lines);
      }
      const eol = next() < 0.3 ? "\r\n" : "\n";
      const text = lines.join(eol) + eol;
      const tag = TAGS[seed % TAGS.length]!;
      const result = editManifest(text, { group: "apps", app: "web", tag });
      if (result.kind !== "edited") continue;
      editedFiles += 1;
      const before = parseAllDocuments(text).map((doc) => doc.toJS() as unknown);
      const after = parseAllDocuments(result.text).map((doc) => doc.toJS() as unknown);
      expect(after.length).toBe(before.length);
      const differing = after.flatMap((doc, index) => leafDifferences(before[index], doc, []));
      expect(differing.length).toBe(result.changes.length);
      for (const difference of differing) expect(String(difference.after)).toMatch(new RegExp(`${tag.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`));
      const unchangedLines = text.split(eol).filter((line) => !line.includes('"apps:web'));
      const editedLines = result.text.split(eol).filter((line) => !line.includes('"apps:web'));
      expect(editedLines).toEqual(unchangedLines);
    }
    expect(editedFiles).toBeGreaterThan(200);
  });
});

function leafDifferences(before: unknown, after: unknown, path: string[]): { path: string; after: unknown }[] {
  if (typeof before === "object" && before !== null && typeof after === "object" && after !== null) {
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    return [...keys].flatMap((key) => leafDifferences((before as Record<string, unknown>)[key], (after as Record<string, unknown>)[key], [...path, key]));
  }
  return Object.is(before, after) ? [] : [{ path: path.join("."), after }];
}
