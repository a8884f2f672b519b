/** The repository's JSON Schemas (schemas/*.schema.json), compiled with Ajv, for checking real API answers. */
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const DIR = join(import.meta.dir, "..", "..", "schemas");
const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats(ajv);
for (const file of readdirSync(DIR)) ajv.addSchema(JSON.parse(readFileSync(join(DIR, file), "utf8")), file);

/** The schema's complaints about `data`; [] when it fits. */
export function schemaErrors(schema: "deployment" | "deployments" | "promotions", data: unknown): string[] {
  const validate = ajv.getSchema(`${schema}.schema.json`);
  if (validate === undefined) throw new Error(`no schema ${schema}`);
  return validate(data) ? [] : (validate.errors ?? []).map((error) => `${error.instancePath || "/"} ${error.message ?? ""}`);
}
