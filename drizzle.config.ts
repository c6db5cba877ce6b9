import { defineConfig } from 'drizzle-kit';

// Migrations are generated from src/db/schema.ts and applied at start to PGlite and PostgreSQL alike.
export default defineConfig({
  dialect: 'postgresql',
  schema: ['./src/db/schema.ts', './src/db/billing-schema.ts', './src/db/render-schema.ts', './src/db/live-schema.ts'],
  out: './src/db/migrations',
});
