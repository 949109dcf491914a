#!/bin/bash
# Ping between two TAP namespaces on two nodes of `fabric up` (issue 11), as root, under the shared lock:
#   flock /tmp/fabric-test.lock benchmarks/tap-ping.sh src/Nodes/bin/Release/net10.0 LABEL [--hocon FILE]
# An l3 network, TAP endpoints vm-a (node-1) and vm-b (node-2) in namespaces lat-vm-a/lat-vm-b, 60 pings at two
# intervals after a warm-up; then a DF ping of 1460 bytes (too big for a 1500 underlay once the TAP MTU is 1500 via
# --hocon) and the TooBig drop sample it leaves. Needs curl. IPERF_SECONDS=N adds a single-stream iperf3 TCP run of
# N seconds from vm-a to vm-b (after a 1 s warm-up) between the pings and the too-big check. KEEP=1 keeps the
# cluster directory (node logs, api.log with the API answers); a series with no answer at all keeps it anyway.
FAB=$1/fabric; LABEL=$2; shift 2
D=$(mktemp -d /tmp/fabric-tap-ping.XXXX)
BP=$((30000 + RANDOM % 20000))
$FAB up --nodes 2 --data $D --base-port $BP "$@" > $D/up.log 2>&1 &
UP=$!
for i in $(seq 1 120); do [ -f $D/cluster.json ] && curl -s -o /dev/null http://127.0.0.1:$((BP+1))/health/ready && break; sleep 0.5; done
TOKEN=$(sed -n 's/.*"token": "\(.*\)",*/\1/p' $D/cluster.json)
API=$(grep -o '"http": *"[^"]*"' $D/cluster.json | head -1 | sed 's/.*"\(http[^"]*\)"/\1/')
H=(-H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json")
for i in $(seq 1 60); do curl -s "${H[@]}" $API/cluster/members | grep -o '"Up"' | wc -l | grep -q 2 && break; sleep 0.5; done
curl -s "${H[@]}" $API/api/v1/networks -d '{"name":"lat","vni":4242,"kind":"l3","cidr":"10.42.0.0/16"}' >> $D/api.log; echo >> $D/api.log
curl -s "${H[@]}" $API/api/v1/networks/net-1/subnets -d '{"name":"a","cidr":"10.42.1.0/24"}' >> $D/api.log; echo >> $D/api.log
curl -s "${H[@]}" $API/api/v1/endpoints -d '{"name":"vm-a","network":"net-1","node":"node-1","ip":"10.42.1.10","port":{"kind":"tap","namespace":"lat-vm-a"}}' >> $D/api.log; echo >> $D/api.log
curl -s "${H[@]}" $API/api/v1/endpoints -d '{"name":"vm-b","network":"net-1","node":"node-2","ip":"10.42.1.20","port":{"kind":"tap","namespace":"lat-vm-b"}}' >> $D/api.log; echo >> $D/api.log
for i in $(seq 1 60); do ip netns exec lat-vm-a ping -c 1 -W 1 10.42.1.20 > /dev/null 2>&1 && break; sleep 0.5; done
ip netns exec lat-vm-a ping -c 5 -i 0.05 10.42.1.20 > /dev/null 2>&1
for interval in 0.05 0.2; do
  ip netns exec lat-vm-a ping -c 60 -i $interval 10.42.1.20 | grep -o 'time=[0-9.]*' | cut -d= -f2 | sort -n > $D/rtt.txt
  N=$(wc -l < $D/rtt.txt)
  [ "$N" -gt 0 ] || KEEP=1
  echo "$LABEL interval $interval s: $N/60 answered, median $(sed -n "$(( (N+1)/2 ))p" $D/rtt.txt) ms, p90 $(sed -n "$(( N*9/10 ))p" $D/rtt.txt) ms, min $(head -1 $D/rtt.txt) max $(tail -1 $D/rtt.txt)"
done
if [ "${IPERF_SECONDS:-0}" -gt 0 ]; then
  ip netns exec lat-vm-b iperf3 -s -1 -B 10.42.1.20 > /dev/null 2>&1 &
  SERVER=$!
  sleep 0.5
  ip netns exec lat-vm-a iperf3 -c 10.42.1.20 -t $IPERF_SECONDS -O 1 2>&1 | grep -E "sender|receiver" | sed "s/^/$LABEL iperf3: /"
  # the server only: a bare `wait` would also wait for `fabric up`, which runs until killed below
  wait $SERVER
fi
# a too-big ping with DF: the gateway answers "frag needed" (issue 11), shown by ping as such
ip netns exec lat-vm-a ping -c 1 -M do -s 1460 -W 1 10.42.1.20 2>&1 | grep -iE "frag|mtu|too long|transmitted" | head -2
curl -s "${H[@]}" "$API/api/v1/nodes/node-1/drops?reason=TooBig&limit=1" | head -c 600; echo
kill $UP; wait $UP 2>/dev/null
ip netns delete lat-vm-a 2>/dev/null; ip netns delete lat-vm-b 2>/dev/null
# A series without a single answer keeps the cluster's logs and the API's answers (api.log) for a look.
if [ -n "$KEEP" ]; then echo "$LABEL: kept $D (node logs, api.log)"; else rm -rf $D; fi
