# $1 = trial number, $2 = signal, $3 = delay seconds
. /tmp/atk4/env.sh
export EDFS_PASSWORD=$(cat /tmp/atk4/w2/pw) EDFS_CONFIG=/tmp/atk4/w2/c/dfc.conf
cd /tmp/atk4
T=int$1; $E rm -r $T >/dev/null 2>&1
$E put srcint --to $T > i.out 2> i.err & p=$!
sleep $3; kill -$2 $p; wait $p; rc=$?
stored=$(grep -c '^stored' i.out)
echo "trial $1 sig=$2 delay=$3 rc=$rc stored-lines=$stored"
grep -v '^stored' i.out | head -3; grep -v -e '^stored' i.err | head -3
# verify stored lines
bad=0; for n in $(sed -n 's/^stored \(.*\) ([0-9.]* [KMG]*i*B, version.*/\1/p' i.out); do rel=${n#$T/}; $E get $n -o - 2>/dev/null | cmp -s - srcint/$rel || { bad=$((bad+1)); echo "  STORED-LINE BAD: $n"; }; done
echo "  stored lines checked, bad=$bad"
cp i.out i$1.out; cp i.err i$1.err
