/** The product's version, from package.json, baked into the compiled binary at build time. */
import packageJson from "../../package.json" with { type: "json" };

export const VERSION: string = packageJson.version;
export const PRODUCT = "gitops-connector";

/** What every outbound call says it is (`User-Agent`); GitHub asks for one that names the app. */
export const USER_AGENT = `${PRODUCT}/${VERSION}`;
