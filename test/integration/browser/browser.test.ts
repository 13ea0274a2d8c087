import fs from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { eventually, startTestSystem, type TestSystem } from '../../helpers/system';
import { applicationBody } from '../api/harness';

// What a person sees, in a real browser: Debian's Chromium, headless, driven by playwright-core,
// against the system exactly as `npm start` runs it (dev server with its Web UI, the API with its
// codec endpoint, the worker, the sandbox; payloads encrypted). The steps are the README's.

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
/** Generous: the machine is shared and a cold Temporal UI compiles a lot of script. */
const UI_WAIT_MS = 120_000;

const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium) {
  // CI installs it (.ci/run); elsewhere say what is missing instead of failing on it.
  if (process.env.CI) throw new Error(`No Chromium at ${CHROMIUM}: .ci/run installs Debian's chromium`);
  console.warn(`Browser tests skipped: no Chromium at ${CHROMIUM} (apt-get install chromium fonts-noto-cjk, or set CHROMIUM_PATH).`);
}
const describeWithBrowser = haveChromium ? describe : describe.skip;

let s: TestSystem;
let browser: Browser;
let applicationId: string;
let workflowId: string;

beforeAll(async () => {
  if (!haveChromium) return;
  [s, browser] = await Promise.all([startTestSystem(), chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })]);
  const officer = await s.token('officer-browser', 'officer');
  const created = await s.api('POST', '/applications', officer, applicationBody());
  expect(created.status).toBe(201);
  ({ id: applicationId, workflowId } = created.body as { id: string; workflowId: string });
  await eventually(() => s.api('GET', `/applications/${applicationId}`, officer), (r) => r.body?.pendingTask?.kind === 'phone_verification', 'the phone verification task');
});

afterAll(async () => {
  await browser?.close();
  await s?.stop();
});

async function newPage(context?: BrowserContext): Promise<{ page: Page; problems: string[] }> {
  const page = await (context ?? (await browser.newContext())).newPage();
  page.setDefaultTimeout(UI_WAIT_MS);
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return { page, problems };
}

describeWithBrowser('/docs in Chromium', () => {
  it('loads Swagger UI, authorises with a development token and runs a request against the API', async () => {
    const { page, problems } = await newPage();
    await page.goto(`${s.apiUrl}/docs`);
    await page.locator('.opblock').first().waitFor();
    await expectVisible(page.getByText('Car-loan operations API'));

    await page.getByRole('button', { name: 'Authorize' }).first().click();
    await page.locator('#auth-bearer-value').fill(await s.token('officer-docs', 'officer'));
    await page.getByRole('button', { name: 'Apply credentials' }).first().click();
    await page.locator('.modal-ux .btn-done').first().click();

    const op = page.locator('#operations-applications-listApplications');
    await op.locator('.opblock-summary').click();
    await op.getByRole('button', { name: 'Try it out' }).click();
    await op.getByRole('button', { name: 'Execute' }).click();
    const status = op.locator('.live-responses-table .response .response-col_status').first();
    await status.waitFor();
    expect((await status.innerText()).trim()).toBe('200');
    const body = await op.locator('.live-responses-table .response-col_description pre').first().innerText();
    expect(body).toContain(applicationId);
    // The bearer token went with it (a 401 would have no items), and the page broke no CSP rule.
    expect(await op.locator('.curl-command').innerText()).toContain('Authorization: Bearer ');
    expect(problems).toEqual([]);
    await page.close();
  });
});

describeWithBrowser('the Temporal UI and the codec endpoint in Chromium', () => {
  it('signs in at /codec/login, decodes a real payload in the UI through the codec endpoint, lists by LoanStage, and signs out', async () => {
    const context = await browser.newContext();
    const { page } = await newPage(context);
    const decodeAnswers: number[] = [];
    page.on('response', (r) => {
      if (r.url().startsWith(`${s.apiUrl}/codec/decode`)) decodeAnswers.push(r.status());
    });

    // 1. Sign in: paste an admin token, press the button (Chromium sends the page's own Origin).
    await page.goto(`${s.apiUrl}/codec/login`);
    // The page names the endpoint to paste into the UI's settings.
    const endpoint = await page.locator('#endpoint').innerText();
    expect(endpoint).toBe(`${s.apiUrl}/codec`);
    await page.locator('textarea[name=token]').fill(await s.token('engineer-browser', 'admin'));
    await page.getByRole('button', { name: 'Start session' }).click();
    await expectVisible(page.getByText('Signed in as'));
    expect(await page.locator('#staff').innerText()).toBe('engineer-browser');
    const [cookie] = (await context.cookies(`${s.apiUrl}/codec/decode`)).filter((c) => c.name === 'car_loans_codec');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/codec', secure: false });

    // 2. The UI, before its codec settings include credentials: encrypted, and the endpoint says 401.
    await page.goto(`${s.uiUrl}/namespaces/default/workflows/${workflowId}`);
    await eventually(async () => decodeAnswers.slice(), (a) => a.includes(401), 'the UI calling the codec endpoint without credentials');

    // 3. The codec settings, as the README says: browser setting, endpoint, credentials, apply, reload.
    await page.locator('[data-testid^="data-encoder-status"]').first().click();
    await page.locator('[data-testid="use-local-endpoint-input"]').check();
    await page.locator('[data-testid="data-encoder-endpoint-input"]').fill(endpoint);
    await page.getByText('Include cross-origin credentials').click();
    expect(await page.locator('#pass-access-credentials').isChecked()).toBe(true);
    await page.getByRole('button', { name: 'Apply' }).click();
    decodeAnswers.length = 0;
    await page.reload();
    await expectVisible(page.getByText(`"applicationId": "${applicationId}"`).first());
    await expectVisible(page.getByText('"branchId": "BJ-001"').first());
    expect(decodeAnswers.length).toBeGreaterThan(0);
    expect(decodeAnswers.every((st) => st === 200)).toBe(true);

    // 4. The list by LoanStage: this application waits for the verifier, so it is in one list and not the other.
    await page.goto(`${s.uiUrl}/namespaces/default/workflows?query=${encodeURIComponent('LoanStage="phone_verification"')}`);
    await expectVisible(page.getByRole('link', { name: workflowId }));
    await page.goto(`${s.uiUrl}/namespaces/default/workflows?query=${encodeURIComponent('LoanStage="servicing"')}`);
    await eventually(() => page.locator('main').first().innerText(), (text) => text.includes('No Workflows Found'), 'the empty list of servicing applications', UI_WAIT_MS);
    expect(await page.getByRole('link', { name: workflowId }).count()).toBe(0);

    // 5. Sign out: the session ends and the UI shows ciphertext again.
    await page.goto(`${s.apiUrl}/codec/login`);
    await page.getByRole('button', { name: 'End session' }).click();
    await expectVisible(page.getByText('Codec session ended'));
    expect((await context.cookies(`${s.apiUrl}/codec/decode`)).filter((c) => c.name === 'car_loans_codec')).toEqual([]);
    decodeAnswers.length = 0;
    await page.goto(`${s.uiUrl}/namespaces/default/workflows/${workflowId}`);
    await eventually(async () => decodeAnswers.slice(), (a) => a.includes(401), 'the codec endpoint refusing the ended session');
    expect(await page.getByText(`"applicationId": "${applicationId}"`).count()).toBe(0);
    await context.close();
  });
});

async function expectVisible(locator: ReturnType<Page['locator']>): Promise<void> {
  await locator.waitFor({ state: 'visible', timeout: UI_WAIT_MS });
}
