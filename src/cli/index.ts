// The CLI is a program, not a library: bin/shoal.js runs shoal.ts, and nothing imports the CLI.
export {};
