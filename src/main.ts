#!/usr/bin/env bun
/** The entry of the binary and of `bun src/main.ts`: the command line, src/cli/main.ts. */
import "./cli/main.ts";
