/**
 * Renderer templates: operators add them (`POST /v1/admin/render-templates`), everyone lists them
 * (`GET /v1/render-templates`) to know what `renderer` names and parameters a render job may use.
 * A template with the name of an existing one replaces it for jobs submitted from then on; jobs
 * already submitted keep the definition they were submitted with.
 */
import { Hono } from 'hono';
import { asc, eq } from 'drizzle-orm';
import { ApiError } from '../api-error.js';
import type { ApiEnv } from '../auth.js';
import { renderTemplates } from '../../db/render-schema.js';
import { parseTemplate, TemplateError } from '../../jobs/render/template.js';
import type { FarmContext } from '../../services/farm-context.js';

export function renderTemplatesApi(ctx: FarmContext) {
  return new Hono<ApiEnv>().get('/', async (c) => {
    const rows = await ctx.db.select().from(renderTemplates).orderBy(asc(renderTemplates.name));
    return c.json({ results: [{ name: 'blender', builtin: true, description: "Blender's own renderer (Cycles or Eevee), built in" }, ...rows.map(view)] });
  });
}

export function adminRenderTemplatesApi(ctx: FarmContext) {
  return new Hono<ApiEnv>().post('/', async (c) => {
    const body = await c.req.json().catch(() => {
      throw new ApiError('invalid_request', 'the body must be a renderer template (JSON)');
    });
    let definition;
    try {
      definition = parseTemplate(body);
    } catch (err) {
      if (err instanceof TemplateError) throw new ApiError('invalid_request', err.message);
      throw err;
    }
    const [existing] = await ctx.db.select().from(renderTemplates).where(eq(renderTemplates.name, definition.name));
    const row = { name: definition.name, definition, createdBy: c.get('principal').tenantName, createdAt: new Date() };
    await ctx.db.insert(renderTemplates).values(row).onConflictDoUpdate({ target: renderTemplates.name, set: { definition, createdBy: row.createdBy, createdAt: row.createdAt } });
    ctx.log.info(existing ? 'renderer template replaced' : 'renderer template added', { template: definition.name, by: row.createdBy });
    return c.json(view(row), existing ? 200 : 201);
  });
}

function view(row: { name: string; definition: unknown; createdBy: string; createdAt: Date }) {
  return { name: row.name, builtin: false, ...(row.definition as object), created_by: row.createdBy, created_at: row.createdAt.toISOString() };
}
