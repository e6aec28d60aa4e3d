#!/bin/bash
# Usage on a GPU machine, from the repo root: DATA=<folder with Train400/ and Set12/> OUT=<results folder> \
#   TL=<seconds> MODELS="s15 s25 s50 blind nenet" BS=64 bash scripts/device_train_all.sh
# Trains the shipped models on the GPU machine, all at once (each process is launch-bound).
set -u
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2
TL=${TL:-420}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import torch;print('torch',torch.__version__,torch.cuda.is_available())"
R=/tmp/runs; mkdir -p $R
D=${DATA:-.device_data}
common="--data $D/Train400 --val $D/Set12 --device ${DEV:-cuda} --amp none --max-steps 1000000 --time-limit $TL --ckpt-every 500 --val-every 2000 --log-every 100 --no-progress"
M=${MODELS:-"s15 s25 s50 blind nenet"}
for s in 15 25 50; do
  [[ " $M " == *" s$s "* ]] || continue
  timeout -s TERM $((TL+40)) python3 -m innverse train winnet $common --sigma $s --batch-size ${BS:-64} --out $R/s$s > $R/s$s.log 2>&1 &
done
[[ " $M " == *" blind "* ]] && timeout -s TERM $((TL+40)) python3 -m innverse train winnet $common --sigma-range 0 55 --batch-size ${BS:-64} --out $R/blind > $R/blind.log 2>&1 &
[[ " $M " == *" nenet "* ]] && timeout -s TERM $((TL+40)) python3 -m innverse train nenet $common --batch-size 16 --out $R/nenet > $R/nenet.log 2>&1 &
( while true; do sleep 45; (cd $R && tar czf $OUT/.runs.tmp */model */log.csv *.log 2>/dev/null && mv $OUT/.runs.tmp $OUT/runs.tgz); done ) &
SNAP=$!
sleep 40; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader; tail -n 3 $R/*.log
wait $(jobs -p | grep -v $SNAP) 2>/dev/null; kill $SNAP
for r in $M; do echo "== $r"; tail -n 4 $R/$r.log; tail -n 2 $R/$r/log.csv; done
cd $R && tar czf $OUT/runs.tgz */model */log.csv *.log && ls -la $OUT
