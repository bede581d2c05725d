// The checkout story under load, for k6 (https://k6.io): each virtual user lists the
// products, reads a page of them (and the next), looks at one and buys a few of a random
// seeded sku. 200 (sold) and 409 (out of stock, a restock is requested) are both right
// answers; anything else counts as failed.
//
//   scripts/up                                      # or any running stack
//   k6 run tests/load/checkout.js                   # 20 users for 30 s against :8080
//   k6 run -e SALES_URL=http://127.0.0.1:18080 -e VUS=50 -e DURATION=2m tests/load/checkout.js
//
// Environment: SALES_URL (http://127.0.0.1:8080), VUS (20), DURATION (30s),
// MAX_QUANTITY (3, the largest quantity one purchase asks for), P95_MS (500, the
// p95 latency threshold in milliseconds), THINK_MS (100, pause between iterations),
// PAGE_LIMIT (2, the `limit` of the catalogue page each iteration asks for).
// Thresholds: no 5xx at all, under 1 % of requests failed, p95 latency under P95_MS.
// A run also shows how many purchases sold and how many found the shelf empty; with
// FACTORY_PRODUCTION_SECONDS the restocks keep the shelves filling up meanwhile.
//
// scripts/test checks that this file parses (node --check); k6 itself is not needed there.

import http from 'k6/http';
import { check, group, sleep } from 'k6';
import { Counter, Rate } from 'k6/metrics';

const SALES_URL = (__ENV.SALES_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const MAX_QUANTITY = Number(__ENV.MAX_QUANTITY || 3);
const THINK_MS = Number(__ENV.THINK_MS || 100);
const PAGE_LIMIT = Number(__ENV.PAGE_LIMIT || 2);
const SEEDED_SKUS = ['CP-502101', 'CP-502102', 'CP-502103', 'CP-502104', 'CP-502105'];

const serverErrors = new Rate('server_errors'); // share of replies that were 5xx
const sold = new Counter('checkout_sold');
const outOfStock = new Counter('checkout_out_of_stock');

export const options = {
  scenarios: {
    checkout: {
      executor: 'constant-vus',
      vus: Number(__ENV.VUS || 20),
      duration: __ENV.DURATION || '30s',
    },
  },
  thresholds: {
    // 409 is an expected answer (see expectedStatuses below), so http_req_failed counts
    // only the unexpected ones: 4xx other than 409, 5xx and connection errors.
    http_req_failed: ['rate<0.01'],
    server_errors: ['rate==0'],
    http_req_duration: [`p(95)<${Number(__ENV.P95_MS || 500)}`],
    'http_req_duration{name:checkout}': [`p(95)<${Number(__ENV.P95_MS || 500)}`],
    checks: ['rate>0.99'],
  },
};

http.setResponseCallback(http.expectedStatuses(200, 409));

function countServerError(res) {
  serverErrors.add(res.status >= 500 || res.status === 0);
}

export function setup() {
  const res = http.get(`${SALES_URL}/ready`);
  if (res.status !== 200) {
    throw new Error(`${SALES_URL}/ready answered ${res.status}: start the stack first (scripts/up)`);
  }
}

export default function () {
  const requestId = `k6-${__VU}-${__ITER}`;
  const headers = { 'Content-Type': 'application/json', 'X-Request-Id': requestId };

  group('list products', () => {
    const res = http.get(`${SALES_URL}/products`, { headers, tags: { name: 'products' } });
    countServerError(res);
    check(res, {
      'products: 200': (r) => r.status === 200,
      'products: every seeded sku': (r) => {
        if (r.status !== 200) return false;
        const skus = r.json().map((p) => p.sku);
        return SEEDED_SKUS.every((s) => skus.includes(s));
      },
    });
  });

  group('a page of products', () => {
    // Keyset pagination: a page of PAGE_LIMIT from a random seeded sku, then the page its
    // Link header points to (absent on the last page).
    const after = SEEDED_SKUS[Math.floor(Math.random() * SEEDED_SKUS.length)];
    const res = http.get(`${SALES_URL}/products?limit=${PAGE_LIMIT}&after=${after}`, {
      headers,
      tags: { name: 'products page' },
    });
    countServerError(res);
    check(res, {
      'page: 200': (r) => r.status === 200,
      'page: at most limit products, each after the cursor': (r) => {
        if (r.status !== 200) return false;
        const page = r.json();
        return page.length <= PAGE_LIMIT && page.every((p) => p.sku > after);
      },
    });
    const link = /^<([^>]+)>; rel="next"$/.exec(res.headers.Link || '');
    if (link) {
      const next = http.get(`${SALES_URL}${link[1]}`, { headers, tags: { name: 'products page' } });
      countServerError(next);
      check(next, { 'next page: 200': (r) => r.status === 200 });
    }
  });

  const sku = SEEDED_SKUS[Math.floor(Math.random() * SEEDED_SKUS.length)];
  const quantity = 1 + Math.floor(Math.random() * MAX_QUANTITY);

  group('one product', () => {
    const res = http.get(`${SALES_URL}/products/${sku}`, { headers, tags: { name: 'product' } });
    countServerError(res);
    check(res, { 'product: 200': (r) => r.status === 200 && r.json('sku') === sku });
  });

  group('checkout', () => {
    const res = http.post(`${SALES_URL}/checkout`, JSON.stringify({ sku, quantity }), {
      headers,
      tags: { name: 'checkout' },
    });
    countServerError(res);
    if (res.status === 200) sold.add(1);
    if (res.status === 409) outOfStock.add(1);
    check(res, {
      'checkout: 200 sold or 409 out_of_stock': (r) => r.status === 200 || r.status === 409,
      'checkout: body matches the status': (r) => {
        if (r.status === 200) {
          return r.json('status') === 'sold' && r.json('quantity') === quantity && r.json('remaining_stock') >= 0;
        }
        if (r.status === 409) {
          return r.json('status') === 'out_of_stock' && typeof r.json('restock_request_id') === 'string';
        }
        return false;
      },
      'checkout: X-Request-Id echoed': (r) => r.headers['X-Request-Id'] === requestId,
    });
  });

  sleep(THINK_MS / 1000);
}
