/** A GitHub App for tests: an RSA key pair as GitHub hands out (PKCS#1 PEM), its id and installation. */
import { generateKeyPairSync } from "node:crypto";

export interface TestGitHubApp {
  readonly appId: string;
  readonly installationId: string;
  /** `-----BEGIN RSA PRIVATE KEY-----`, like the file GitHub's app settings download. */
  readonly privateKey: string;
  readonly publicKey: string;
}

let cached: { privateKey: string; publicKey: string } | undefined;

export function testGitHubApp(appId = "123456", installationId = "7654321"): TestGitHubApp {
  cached ??= (() => {
    const pair = generateKeyPairSync("rsa", { modulusLength: 2048 });
    return {
      privateKey: pair.privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
      publicKey: pair.publicKey.export({ type: "spki", format: "pem" }).toString(),
    };
  })();
  return { appId, installationId, ...cached };
}
