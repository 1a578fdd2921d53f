#!/usr/bin/env bash
# The demo: installs and builds what is missing, then runs a lab -- 2 nodes made of network
# namespaces on an underlay switch, a weft-agent on each, pods attached by the real CNI plugins
# -- applies examples/demo, prints the real connectivity matrix, and removes the lab (also on
# failure or Ctrl-C). The root network namespace is never changed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

weftctl() { node dist/cli/weftctl.js "$@"; }
lab="demo-$$"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

cleanup() {
  status=$?
  trap - EXIT INT TERM
  step "lab down"
  weftctl lab down --name "$lab" || status=1
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "lab up: 2 nodes x 2 pods"
weftctl lab up --name "$lab" --nodes 2 --pods-per-node 2
weftctl lab get nodes --name "$lab"

step "lab apply -f examples/demo: a Namespace, two Pods, a Service, a NetworkPolicy"
weftctl lab apply --name "$lab" -f examples/demo
weftctl lab get pods --name "$lab"
echo
weftctl lab get services --name "$lab"

step "probe: a real TCP connection / UDP datagram from every pod to every pod"
echo "Pods on different nodes talk through the agents' VXLAN overlay. The NetworkPolicy"
echo "shop/backend-from-frontend isolates shop/backend: only shop/frontend reaches it, on TCP"
echo "port 80 (its port named http); every other pod, and UDP, is dropped."
echo
# The agents apply the policy within a fraction of a second of lab apply: wait for it.
expected_check='
  const pods = JSON.parse(process.argv[1]);
  const m = { TCP: JSON.parse(process.argv[2]), UDP: JSON.parse(process.argv[3]) };
  const key = (p) => `${p.namespace}/${p.name}`;
  const expected = (proto, a, b) => key(b) !== "shop/backend" || (proto === "TCP" && key(a) === "shop/frontend");
  const wrong = [];
  for (const proto of ["TCP", "UDP"]) for (const a of pods) for (const b of pods) {
    if (a === b) continue;
    const want = expected(proto, a, b);
    if (m[proto][key(a)][key(b)] !== want) wrong.push(`${proto} ${key(a)} -> ${key(b)} ${want ? "should answer" : "should be dropped"}`);
  }
  if (wrong.length > 0) { console.log(wrong.join("\n")); process.exit(1); }
'
pods=$(weftctl lab get pods --name "$lab" -o json)
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  tcp=$(weftctl lab probe --name "$lab" --protocol TCP --port 80 --timeout 500 -o json)
  udp=$(weftctl lab probe --name "$lab" --protocol UDP --port 81 --timeout 500 -o json)
  if node -e "$expected_check" "$pods" "$tcp" "$udp" > /dev/null; then break; fi
  sleep 0.5
done
weftctl lab probe --name "$lab" --protocol TCP --port 80
echo
weftctl lab probe --name "$lab" --protocol UDP --port 81

step "through the Service shop/backend: 10 connections from every pod to its cluster IP"
echo "The agents proxy Services (DNAT to an endpoint in nftables, as kube-proxy would): the"
echo "policy applies after the translation, so only shop/frontend gets answers from shop/backend"
echo "(shop/backend reaching itself through its Service is masqueraded to its node's address, which"
echo "the policy does not admit either)."
echo
service=$(weftctl lab probe --name "$lab" --to shop/backend --port 80 --count 10 --timeout 500 -o json)
weftctl lab probe --name "$lab" --to shop/backend --port 80 --count 10 --timeout 500

step "agent on node-0 (weftctl status)"
weftctl status --lab "$lab" --node node-0

# The demo passes when every pod reaches every other pod, on its node and across nodes, except
# what the policy drops.
service_check='
  const rows = JSON.parse(process.argv[1]);
  const wrong = Object.entries(rows).filter(([client, counts]) =>
    client === "shop/frontend" ? counts["shop/backend"] !== 10 : counts["shop/backend"] !== undefined);
  if (wrong.length > 0) { console.log("through the service:", JSON.stringify(wrong)); process.exit(1); }
'
if node -e "$expected_check" "$pods" "$tcp" "$udp" && node -e "$service_check" "$service"; then
  echo
  echo "demo: every pod reaches every other pod, on its node and across nodes; shop/backend only from shop/frontend on TCP 80, directly and through its Service"
else
  echo
  echo "demo: probes FAILED (above: what differs from the policy)"
  exit 1
fi
