/**
 * Flux image-automation setter markers, found with the YAML parser the way kyaml finds them: a value scalar's
 * same-line comment (or, for a sequence item, the comment line just above it) that is exactly one JSON object
 * `{"$imagepolicy": "<group>:<app>[:tag|:name|:digest]"}`. Trailing text after the JSON disables a marker in Flux,
 * so it does here. A marker on something that is not a plain or quoted scalar (a block scalar, an alias, a tagged
 * node) is refused: editing it by bytes could not keep its meaning.
 */
import { isAlias, isCollection, isPair, isScalar, isSeq, visit, type Document, type Node } from "yaml";
import type { ScalarStyle } from "./render-scalar.ts";

/** What a marker sets: the whole `name:tag[@digest]`, or one part of it. */
export type MarkerField = "image" | "tag" | "name" | "digest";

export interface Marker {
  readonly group: string;
  readonly app: string;
  readonly field: MarkerField;
  /** The scalar's current string value. */
  readonly value: string;
  readonly style: ScalarStyle;
  readonly inFlow: boolean;
  /** Byte range of the scalar's source (quotes included), in the file's text. */
  readonly start: number;
  readonly end: number;
  /** Where the value sits in the document's data: keys and sequence indexes. */
  readonly path: readonly (string | number)[];
  readonly documentIndex: number;
}

export class MarkerError extends Error {
  override readonly name = "MarkerError";
}

const FIELDS: Readonly<Record<string, MarkerField>> = { tag: "tag", name: "name", digest: "digest" };

/** `{"$imagepolicy": "apps:web:tag"}` → group, app, field; anything else → undefined. */
export function readMarkerComment(comment: string | null | undefined): { group: string; app: string; field: MarkerField } | undefined {
  if (comment === undefined || comment === null) return undefined;
  const line = comment.split(/\r?\n/).at(-1)?.trim().replace(/^#+/, "").trim() ?? "";
  if (!line.startsWith("{") || !line.includes("$imagepolicy")) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
  const policy = (parsed as Record<string, unknown>)["$imagepolicy"];
  if (typeof policy !== "string") return undefined;
  const [group, app, fieldName, ...rest] = policy.split(":");
  if (!group || !app || rest.length > 0) return undefined;
  if (fieldName === undefined) return { group, app, field: "image" };
  const field = FIELDS[fieldName];
  return field === undefined ? undefined : { group, app, field };
}

/** Every marker in the documents, for any policy; throws MarkerError for a marker on a node it cannot edit. */
export function findMarkers(text: string, documents: readonly Document[]): Marker[] {
  const markers: Marker[] = [];
  documents.forEach((document, documentIndex) => {
    visit(document, {
      Node(key, node, ancestors) {
        if (key === "key" || !(isScalar(node) || isAlias(node) || isCollection(node))) return;
        const marker = readMarkerComment(node.comment) ?? readMarkerComment(headComment(key, node, ancestors.at(-1)));
        if (marker === undefined) return;
        const where = `line ${lineOf(text, node)}`;
        if (isAlias(node)) throw new MarkerError(`${where}: the marker for ${marker.group}:${marker.app} is on an alias (*${node.source}); put it on the value itself`);
        if (!isScalar(node)) return; // a comment after a collection's last line belongs to the collection, not a value
        if (node.tag !== undefined) throw new MarkerError(`${where}: the marker for ${marker.group}:${marker.app} is on a tagged value (${node.tag}); remove the tag`);
        if (node.type !== "PLAIN" && node.type !== "QUOTE_DOUBLE" && node.type !== "QUOTE_SINGLE") {
          throw new MarkerError(`${where}: the marker for ${marker.group}:${marker.app} is on a block scalar; write the image on one line`);
        }
        if (typeof node.value !== "string" || node.range === undefined || node.range === null) {
          throw new MarkerError(`${where}: the marker for ${marker.group}:${marker.app} is on a value that is not text (${JSON.stringify(node.value)}); quote it`);
        }
        markers.push({
          ...marker,
          value: node.value,
          style: node.type,
          inFlow: ancestors.some((ancestor) => isCollection(ancestor) && ancestor.flow === true),
          start: node.range[0],
          end: node.range[1],
          path: dataPath(ancestors, node),
          documentIndex,
        });
      },
    });
  });
  return markers;
}

/**
 * The comment line above a sequence item (kyaml's HeadComment). The parser hangs the one above the first item on
 * the sequence itself, so that one is read there.
 */
function headComment(key: unknown, node: Node, parent: unknown): string | null | undefined {
  if (typeof key !== "number" || !isSeq(parent)) return undefined;
  return node.commentBefore ?? (key === 0 && parent.flow !== true ? parent.commentBefore : undefined);
}

function dataPath(ancestors: readonly unknown[], node: Node): (string | number)[] {
  const path: (string | number)[] = [];
  const chain = [...ancestors, node];
  chain.forEach((ancestor, index) => {
    const next = chain[index + 1];
    if (isPair(ancestor) && isScalar(ancestor.key)) path.push(String(ancestor.key.value));
    else if (isPair(ancestor)) throw new MarkerError("a marked value under a key that is not text cannot be located");
    else if (isSeq(ancestor)) path.push(ancestor.items.indexOf(next as never));
  });
  return path;
}

function lineOf(text: string, node: Node): number {
  return text.slice(0, node.range?.[0] ?? 0).split("\n").length;
}
