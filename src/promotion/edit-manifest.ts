/**
 * Set an app's image in one manifest file, changing the marked scalars' bytes and nothing else. Unlike kyaml,
 * which re-serialises the whole file (and so moved comments, re-indented and dropped `---`: Flux issues #68,
 * flux2#1441, #4435), this splices each scalar's byte range, right to left, so comments, indentation, quotes,
 * document markers, CRLF and a BOM stay as they were. The result is parsed again and must differ from the input
 * only at the marked paths, with the intended values; anything else is an error, never a commit.
 */
import { isDeepStrictEqual } from "node:util";
import { parseAllDocuments, type Document } from "yaml";
import { formatImageReference, parseImageReference } from "./image-reference.ts";
import { findMarkers, MarkerError, type Marker, type MarkerField } from "./markers.ts";
import { renderScalar } from "./render-scalar.ts";

export interface ImageUpdate {
  readonly group: string;
  readonly app: string;
  readonly tag: string;
  /** `sha256:…`: written by `:digest` markers, and appended by whole-image ones. */
  readonly digest?: string;
}

export interface ScalarChange {
  readonly line: number;
  readonly field: MarkerField;
  readonly from: string;
  readonly to: string;
}

export type ManifestEdit =
  /** The app's markers were found and at least one value changed. */
  | { readonly kind: "edited"; readonly text: string; readonly changes: readonly ScalarChange[] }
  /** The app's markers were found and already say this. */
  | { readonly kind: "unchanged"; readonly markers: number }
  /** No marker for this app in the file. */
  | { readonly kind: "no-marker" }
  /** The file does not parse as YAML; Flux skips such files too. */
  | { readonly kind: "unparsable"; readonly message: string };

export { MarkerError };

export function editManifest(text: string, update: ImageUpdate): ManifestEdit {
  const documents = parseAllDocuments(text, { prettyErrors: false });
  const list = Array.isArray(documents) ? documents : [];
  const broken = list.find((document) => document.errors.length > 0);
  if (broken !== undefined) return { kind: "unparsable", message: broken.errors[0]?.message.split("\n")[0] ?? "invalid YAML" };
  const ours = findMarkers(text, list).filter((marker) => marker.group === update.group && marker.app === update.app);
  if (ours.length === 0) return { kind: "no-marker" };
  const planned = ours.map((marker) => ({ marker, to: newValue(marker, update) })).filter(({ marker, to }) => to !== marker.value);
  if (planned.length === 0) return { kind: "unchanged", markers: ours.length };
  let edited = text;
  for (const { marker, to } of [...planned].sort((a, b) => b.marker.start - a.marker.start)) {
    edited = edited.slice(0, marker.start) + renderScalar(to, marker.style, marker.inFlow) + edited.slice(marker.end);
  }
  verify(list, edited, planned);
  return {
    kind: "edited",
    text: edited,
    changes: planned.map(({ marker, to }) => ({ line: text.slice(0, marker.start).split("\n").length, field: marker.field, from: marker.value, to })),
  };
}

function newValue(marker: Marker, update: ImageUpdate): string {
  switch (marker.field) {
    case "tag":
      return update.tag;
    case "name":
      return marker.value;
    case "digest":
      if (update.digest === undefined) throw new MarkerError(`a :digest marker for ${update.group}:${update.app} needs --digest`);
      return update.digest;
    case "image":
      return formatImageReference({ repository: parseImageReference(marker.value).repository, tag: update.tag, digest: update.digest });
  }
}

/** Parse the edit again: the same documents, equal everywhere except the marked paths, which hold the new values. */
function verify(before: readonly Document[], text: string, planned: readonly { marker: Marker; to: string }[]): void {
  const after = parseAllDocuments(text, { prettyErrors: false });
  const list = Array.isArray(after) ? after : [];
  if (list.length !== before.length || list.some((document) => document.errors.length > 0)) {
    throw new MarkerError("the edited file no longer parses as the same documents; nothing was changed");
  }
  list.forEach((document, index) => {
    const expected = structuredClone(before[index]!.toJS()) as unknown;
    let target = expected;
    for (const { marker, to } of planned.filter(({ marker }) => marker.documentIndex === index)) {
      target = setAt(target, marker.path, to);
    }
    const actual: unknown = document.toJS();
    if (!isDeepStrictEqual(actual, target)) {
      throw new MarkerError(`the edit changed more than the marked values in document ${index + 1}; nothing was changed`);
    }
  });
}

function setAt(data: unknown, path: readonly (string | number)[], value: string): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path;
  const container = data as Record<string | number, unknown>;
  container[head!] = setAt(container[head!], rest, value);
  return data;
}
