#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's loader, so `npx offerfeed` needs no build step.
import { register } from 'tsx/esm/api';
register();
await import('../engine/cli/main.ts');
