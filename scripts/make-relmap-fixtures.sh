#!/bin/bash
# Real pg_filenode.map files and the server's own mapping, per version.
set -e
out=${1:?usage: make-relmap-fixtures.sh OUTDIR (run as the unprivileged test user)}; mkdir -p $out
PSQL=/usr/lib/postgresql/15/bin/psql
for v in 10 11 12 13 14 15 16 17 18; do
  B=/var/cache/pgrescue/pg/$v/native/bin
  d=$out/d$v; rm -rf $d
  port=$((24700+v))
  $B/initdb -U postgres -D $d >/dev/null 2>&1
  $B/pg_ctl -D $d -o "-p $port -k $out -c listen_addresses=''" -l $out/log$v -w start >/dev/null
  q() { $PSQL -h $out -p $port -U postgres -d postgres -At -F ' ' -c "$1"; }
  q "VACUUM FULL pg_class" >/dev/null   # moves pg_class to a new file: only the map knows where
  q "CHECKPOINT" >/dev/null
  dboid=$(q "SELECT oid FROM pg_database WHERE datname='postgres'")
  mkdir -p $out/pg$v
  q "SELECT oid, pg_relation_filenode(oid) FROM pg_class WHERE relfilenode = 0 AND relisshared ORDER BY oid" > $out/pg$v/global.truth.txt
  q "SELECT oid, pg_relation_filenode(oid) FROM pg_class WHERE relfilenode = 0 AND NOT relisshared ORDER BY oid" > $out/pg$v/local.truth.txt
  $B/pg_ctl -D $d -w stop >/dev/null
  cp $d/global/pg_filenode.map $out/pg$v/global.pg_filenode.map
  cp $d/base/$dboid/pg_filenode.map $out/pg$v/local.pg_filenode.map
  echo "pg$v: $(wc -l < $out/pg$v/global.truth.txt) shared, $(wc -l < $out/pg$v/local.truth.txt) local; map sizes $(stat -c %s $out/pg$v/*.map | tr '\n' ' ')"
  rm -rf $d
done
