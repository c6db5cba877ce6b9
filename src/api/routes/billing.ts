/**
 * A tenant's billing: usage (`/v1/usage`), invoices (`/v1/invoices[/{YYYY-MM}]`, as JSON, CSV or a
 * printable page) and the prices in force (`/v1/prices`). Operators may name any tenant with
 * `?tenant=` (an id or a name); a tenant naming another is refused.
 */
import { Hono, type Context } from 'hono';
import { eq, or } from 'drizzle-orm';
import { ApiError } from '../api-error.js';
import type { ApiEnv } from '../auth.js';
import { tenants, type TenantRow } from '../../db/schema.js';
import type { FarmContext } from '../../services/farm-context.js';
import { buildInvoice, invoicePeriods } from '../../billing/invoice.js';
import { invoiceCsv } from '../../billing/invoice-csv.js';
import { invoiceHtml } from '../../billing/invoice-html.js';
import { parsePeriod } from '../../billing/periods.js';
import { inForce, listPrices, priceView } from '../../billing/price-book.js';
import { parseUsageQuery, usageCsv, usageReport } from '../../billing/usage-report.js';

export function billingApi(ctx: FarmContext) {
  return new Hono<ApiEnv>()
    .get('/usage', async (c) => {
      const q = parseUsageQuery(c.req.query());
      const tenant = q.tenant === 'all' ? allTenants(c) : await whose(ctx, c, q.tenant);
      const report = await usageReport(ctx, tenant, q);
      if (q.format === 'csv') return csv(c, usageCsv(report), `usage-${report.from}-${report.to}.csv`);
      return c.json(report);
    })
    .get('/invoices', async (c) => {
      const tenant = await whose(ctx, c, c.req.query('tenant'));
      return c.json({ tenant: { id: tenant.id, name: tenant.name }, currency: ctx.config.MALAN_CURRENCY, results: await invoicePeriods(ctx, tenant.id) });
    })
    .get('/invoices/:period', async (c) => {
      const period = parsePeriod(c.req.param('period'));
      const tenant = await whose(ctx, c, c.req.query('tenant'));
      const invoice = await buildInvoice(ctx, tenant, period);
      const format = c.req.query('format') ?? (c.req.header('accept')?.includes('text/html') ? 'html' : 'json');
      if (format === 'csv') return csv(c, invoiceCsv(invoice), `invoice-${period}.csv`);
      if (format === 'html') {
        c.header('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'");
        return c.html(invoiceHtml(invoice));
      }
      if (format !== 'json') throw new ApiError('invalid_request', 'format must be json, csv or html');
      return c.json(invoice);
    })
    .get('/prices', async (c) => {
      const now = new Date();
      const rows = await listPrices(ctx.db);
      const current = inForce(rows, now, ctx.config.MALAN_CURRENCY);
      const upcoming = rows.filter((p) => p.effectiveFrom > now);
      return c.json({ currency: ctx.config.MALAN_CURRENCY, results: [...current, ...upcoming].map((p) => priceView(p, now)) });
    });
}

/** The tenant a request is about: the caller's own, or for operators the one `?tenant=` names. */
async function whose(ctx: FarmContext, c: Context<ApiEnv>, asked: string | undefined): Promise<Pick<TenantRow, 'id' | 'name'>> {
  const me = c.get('principal');
  if (asked === undefined || asked === me.tenantId || asked === me.tenantName) return { id: me.tenantId, name: me.tenantName };
  if (!me.operator) throw new ApiError('forbidden', "only operator keys can read another tenant's usage and invoices; leave out tenant= to read your own");
  const [row] = await ctx.db.select().from(tenants).where(or(eq(tenants.id, asked), eq(tenants.name, asked)));
  if (!row) throw new ApiError('not_found', `tenant ${asked.slice(0, 100)} was not found`);
  return row;
}

function allTenants(c: Context<ApiEnv>): null {
  if (!c.get('principal').operator) throw new ApiError('forbidden', "only operator keys can read every tenant's usage; leave out tenant= to read your own");
  return null;
}

function csv(c: Context<ApiEnv>, body: string, filename: string) {
  c.header('Content-Type', 'text/csv; charset=utf-8');
  c.header('Content-Disposition', `attachment; filename="${filename}"`);
  // The byte order mark makes spreadsheets read the file as UTF-8 ("GPU time — …").
  return c.body(`\uFEFF${body}`);
}
