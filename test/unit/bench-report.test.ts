import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { renderReport, writeReport } from '../../bench/report';
import { machineDescription, parseResults, resultsJson, stamp, weftVersion, writeResults } from '../../bench/results-file';
import { distributionSvg, label, linearTicks, scalingPlotSvg } from '../../bench/svg';
import { rec, runResults, servicesScaling } from '../helpers/bench-results';
import { tempDir } from '../helpers/tmp';
import { elements, xmlProblem } from '../helpers/xml-check';

function ipamRecords() {
  const host = [3.1, 3.3, 3.0, 3.2, 3.4, 3.1, 3.2, 3.3, 3.0, 3.1, 3.2, 3.5];
  const weft = [6.2, 6.0, 6.4, 6.1, 6.3, 6.2, 6.0, 6.5, 6.1, 6.2, 6.3, 6.1];
  return [
    rec('ipam', { name: 'host-local ADD', unit: 'ms', samples: host }),
    rec('ipam', { name: 'weft-ipam ADD', unit: 'ms', samples: weft, reference: { name: 'host-local ADD', samples: host } }),
  ];
}

test('the well-formedness check catches what it is there for', (t) => {
  t.is(xmlProblem('<svg><g><circle r="1"/></g></svg>'), undefined);
  t.truthy(xmlProblem('<svg><g></svg>'));
  t.truthy(xmlProblem('<svg><text>a & b</text></svg>'));
  t.truthy(xmlProblem('<svg x="1" x="2"></svg>'));
  t.truthy(xmlProblem('<svg></svg><svg></svg>'));
  t.truthy(xmlProblem('<svg><text x=1>a</text></svg>'));
});

test('a scaling plot is well-formed SVG with every point of every series', (t) => {
  const series = [
    { name: 'nftables', points: [{ x: 100, y: 41 }, { x: 1000, y: 120 }, { x: 10_000, y: 910 }] },
    { name: 'iptables <legacy> & co', points: [{ x: 100, y: 61 }, { x: 1000, y: 800 }, { x: 10_000, y: 14_600 }] },
  ];
  const svg = scalingPlotSvg({ title: 'full sync vs services', xLabel: 'services', yLabel: 'ms', series });
  t.is(xmlProblem(svg), undefined);
  const circles = elements(svg, 'circle');
  t.deepEqual(
    circles.map((c) => [c['data-series'], Number(c['data-x']), Number(c['data-y'])]),
    series.flatMap((s) => s.points.map((p) => [s.name === 'nftables' ? s.name : 'iptables &lt;legacy&gt; &amp; co', p.x, p.y])),
  );
  t.is(elements(svg, 'polyline').length, 2, 'a line per series');
  // Higher values are drawn higher up, and larger counts further right (log scale: 100..10,000 evenly).
  const at = (s: string, x: number) => circles.find((c) => c['data-series'].startsWith(s) && Number(c['data-x']) === x)!;
  t.true(Number(at('iptables', 10_000).cy) < Number(at('nftables', 10_000).cy));
  const xs = [100, 1000, 10_000].map((x) => Number(at('nftables', x).cx));
  t.true(Math.abs(xs[1] - xs[0] - (xs[2] - xs[1])) < 0.1);
});

test('counts that include 0 are evenly spaced in order, and a lone point is drawn', (t) => {
  const svg = scalingPlotSvg({ title: 't', xLabel: 'policies', yLabel: 'Gbit/s', series: [{ name: 'same node', points: [{ x: 0, y: 9 }, { x: 100, y: 8.9 }, { x: 1000, y: 8.5 }] }] });
  t.is(xmlProblem(svg), undefined);
  const cx = elements(svg, 'circle').map((c) => Number(c.cx));
  t.true(cx[0] < cx[1] && cx[1] < cx[2]);
  t.true(Math.abs(cx[1] - cx[0] - (cx[2] - cx[1])) < 0.1);
  const one = scalingPlotSvg({ title: 't', xLabel: 'policies', yLabel: 'ms', series: [{ name: 'nftables', points: [{ x: 1000, y: 140 }] }] });
  t.is(xmlProblem(one), undefined);
  t.is(elements(one, 'circle').length, 1);
});

test('a distribution plot has a dot per sample and the median of each row', (t) => {
  const rows = [
    { name: 'host-local ADD', samples: [3, 4, 5, 3.5] },
    { name: 'weft-ipam ADD', samples: [6, 7, 6.5, 60] },
  ];
  const svg = distributionSvg({ title: 'ipam', unit: 'ms', rows });
  t.is(xmlProblem(svg), undefined);
  t.deepEqual(elements(svg, 'circle').map((c) => Number(c['data-value'])), rows.flatMap((r) => r.samples));
  t.deepEqual(elements(svg, 'line').filter((l) => l['data-median']).map((l) => Number(l['data-median'])), [3.75, 6.75]);
});

test('labels and ticks are round numbers', (t) => {
  t.deepEqual([label(10_000), label(120), label(41.25), label(3.5), label(0.0123), label(0), label(20)], ['10,000', '120', '41.3', '3.5', '0.012', '0', '20']);
  t.deepEqual(linearTicks(0, 1000), [0, 200, 400, 600, 800, 1000]);
  t.deepEqual(linearTicks(3, 3.5), [3, 3.1, 3.2, 3.3, 3.4, 3.5]);
});

test('the report: machine, summary of missed targets and untrustworthy spreads, a table and plots per bench', (t) => {
  const wide = rec('services', { name: 'iptables, 1000 services: endpoint change to kernel', unit: 'ms', samples: [40, 55, 90], target: { op: '<', limit: 50 } });
  const results = runResults([...servicesScaling(), wide, ...ipamRecords()], {
    notes: [{ bench: 'services', text: 'iptables at 10000 services not measured' }],
    failures: [{ bench: 'overlay', error: 'iperf3 to 10.0.0.2 failed\nmore' }],
  });
  const { markdown, plots } = renderReport(results, 'plots');
  t.regex(markdown, /^# weft benchmark results/);
  t.regex(markdown, /^Run of 2025-03-01T14:05:09\.123Z \(12:34, weft 0\.1\.0, commit 499d992\): `npm run bench -- --only services`, benches: services, ipam\.$/m);
  t.regex(markdown, /\| CPU \| Test CPU @ 2\.0GHz \(2 cores, x64\) \|/);
  t.regex(markdown, /\| nft \| nftables v1\.0\.6 \|/);
  t.regex(markdown, /targets met: 1 of 3/);
  t.regex(markdown, /- target missed: services, iptables-legacy, 10000 services: full sync: 14,600 ms \(target < 2000 ms\)/);
  t.regex(markdown, /- spread too wide to trust: services, iptables, 1000 services: endpoint change to kernel \(max\/min 125%\)/);
  t.regex(markdown, /- \*\*failed\*\*: overlay: iperf3 to 10\.0\.0\.2 failed\n/);
  t.regex(markdown, /\| weft-ipam ADD \| 6.2 ms \| host-local ADD: 3.2 ms \| 1.94x \| 6-6.5, p90 6.39 \(n 12, IQR\/median 3%\) \|  \|/);
  t.regex(markdown, /\| nftables, 10000 services: full sync \| 910 ms \|  \|  \| 900-950 \(n 3, max\/min 6%\) \| < 2000 ms: met \|/);
  t.regex(markdown, /40-90 \(n 3, max\/min 125%\) \*\*spread too wide to trust\*\* \| < 50 ms: \*\*missed\*\* \|/);
  t.regex(markdown, /## services\n\n- iptables at 10000 services not measured\n/);
  t.deepEqual(plots.map((p) => p.file), ['services-full-sync.svg', 'ipam-distribution-ms.svg']);
  t.regex(markdown, /!\[Service full sync vs services\]\(plots\/services-full-sync\.svg\)/);
  t.regex(markdown, /!\[ipam: distribution of the samples, ms\]\(plots\/ipam-distribution-ms\.svg\)/);
  for (const p of plots) t.is(xmlProblem(p.svg), undefined, p.file);
  const points = elements(plots[0].svg, 'circle').map((c) => `${c['data-series']}@${c['data-x']}=${c['data-y']}`);
  t.deepEqual(points, ['nftables@100=41', 'nftables@1000=120', 'nftables@10000=910', 'iptables-legacy@100=61', 'iptables-legacy@1000=800', 'iptables-legacy@10000=14600']);
});

test('writeReport links the plots relative to the report and removes plots of earlier reports', (t) => {
  const dir = tempDir(t, 'bench-report');
  const plotDir = path.join(dir, 'results', 'plots');
  fs.mkdirSync(plotDir, { recursive: true });
  fs.writeFileSync(path.join(plotDir, 'gone-bench-old.svg'), '<svg/>');
  fs.writeFileSync(path.join(plotDir, 'keep.txt'), 'not a plot');
  writeReport(runResults(servicesScaling()), path.join(dir, 'RESULTS.md'), plotDir);
  t.deepEqual(fs.readdirSync(plotDir).sort(), ['keep.txt', 'services-full-sync.svg']);
  t.regex(fs.readFileSync(path.join(dir, 'RESULTS.md'), 'utf8'), /\(results\/plots\/services-full-sync\.svg\)/);
});

test('results JSON: named by the start time, read back the same, NaN written as null', (t) => {
  const dir = tempDir(t, 'bench-json');
  const records = [...ipamRecords(), rec('agent', { name: 'first sync', unit: 'ms', value: NaN })];
  const results = runResults(records, { notes: [{ bench: 'ipam', text: 'n' }] });
  const file = writeResults(path.join(dir, 'results'), results);
  t.is(path.basename(file), '2025-03-01T14-05-09Z.json');
  t.is(stamp(new Date(results.date)), '2025-03-01T14-05-09Z');
  const text = fs.readFileSync(file, 'utf8');
  t.regex(text, /"value": null/);
  t.deepEqual(JSON.parse(resultsJson(results)), JSON.parse(text));
  const back = parseResults(text);
  t.true(Number.isNaN(back.records[2].value));
  t.deepEqual({ ...back, records: back.records.slice(0, 2) }, { ...results, records: records.slice(0, 2) });
  t.throws(() => parseResults('{"records": []}', 'x.json'), { message: 'x.json: not a weft bench results file' });
});

test('the machine description names CPU, cores, kernel, distro, Node.js and the tools', (t) => {
  const m = machineDescription();
  t.true(m.cores > 0);
  t.is(m.node, process.version);
  t.regex(m.kernel, /^Linux /);
  t.regex(weftVersion(path.join(__dirname, '..', '..', '..')), /^\d+\.\d+\.\d+(, commit [0-9a-f]+)?$/);
  t.deepEqual(Object.keys(m.tools), ['nft', 'iptables', 'iptables-legacy', 'iperf3']);
  // Not node_modules/.bin/nft (@vercel/nft), which comes first in PATH under npm.
  t.regex(m.tools.nft, /^(nftables v|not installed)/);
  t.true(Object.values(m.tools).every((v) => v.length > 0));
});
