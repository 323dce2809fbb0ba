#!/usr/bin/env bash
# Consumer test: what a user of the NuGet packages gets. Packs MlNetConv.Core, MlNetConv and MlNetConv.Hosting
# (Release) into a temporary folder, writes console projects OUTSIDE the repository that reference the packages by id
# and exact version (from that folder, everything else from the machine's configured sources), builds them and runs
#   - the README's ML.NET sample (examples/Samples/Pipeline/Program.cs, copied verbatim) on PNG files exported from
#     the shipped Fashion-MNIST subset, checking its accuracy, summary and prediction;
#   - the README's worker sample (examples/Samples/Worker/Program.cs, verbatim) with that model zip, on an inbox of
#     PNG files, checking that each is scored once into a result file and that SIGTERM stops it cleanly;
#   - the README's engine sample (examples/Samples/Engine/Program.cs, verbatim) for one epoch;
#   - the README's gradients sample (examples/Samples/Gradients/Program.cs, verbatim): the course's numbers and 60
#     steps of its custom loop;
#   - the README's custom-architecture sample (examples/Samples/CustomArchitecture/Program.cs, verbatim) for one epoch;
#   - the README's ONNX sample (examples/Samples/Onnx/Program.cs, verbatim) for one epoch: model.onnx in ONNX Runtime
#     and pipeline.onnx (ML.NET's ConvertToOnnx) back in ML.NET.
# Any failure exits non-zero with the reason. KEEP_CONSUMER_TEST=1 keeps the temporary folder.
set -euo pipefail
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
repo=$(cd "$(dirname "$0")/../.." && pwd)
here="$repo/build/consumer-test"
start=$SECONDS

fail() { echo "consumer test FAILED: $*" >&2; exit 1; }
trap 'echo "consumer test FAILED: line $LINENO exited with $?" >&2' ERR
step() { echo "::: consumer test: $* ($((SECONDS - start)) s)"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/mlnetconv-consumer.XXXXXX")
worker_pid=""
cleanup() {
  if [ -n "$worker_pid" ] && kill -0 "$worker_pid" 2>/dev/null; then kill -KILL "$worker_pid" 2>/dev/null || true; fi
  if [ "${KEEP_CONSUMER_TEST:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
case "$work/" in "$repo"/*) fail "the temporary folder $work is inside the repository";; esac

# ---- pack
version=$(dotnet msbuild "$repo/src/MlNetConv.Core/MlNetConv.Core.csproj" -getProperty:Version -p:Configuration=Release)
[ -n "$version" ] || fail "could not read the package version"
packages="$work/packages"
step "packing version $version"
dotnet build "$repo/src/MlNetConv.Hosting/MlNetConv.Hosting.csproj" -c Release -v quiet -nologo
for project in MlNetConv.Core MlNetConv MlNetConv.Hosting; do
  dotnet pack "$repo/src/$project/$project.csproj" -c Release --no-build -v quiet -nologo -o "$packages"
  for file in "$packages/$project.$version.nupkg" "$packages/$project.$version.snupkg"; do
    [ -s "$file" ] || fail "$file was not written"
    echo "  $(basename "$file"): $(stat -c %s "$file") bytes"
  done
done

# ---- what the packages say: real ML.NET and SkiaSharp dependencies, no build-time tool or publicized copies inside
nuspec() { unzip -p "$packages/$1.$version.nupkg" "$1.nuspec"; }
for project in MlNetConv.Core MlNetConv MlNetConv.Hosting; do
  content=$(unzip -Z1 "$packages/$project.$version.nupkg")
  for expected in "lib/net10.0/$project.dll" "lib/net10.0/$project.xml" README.md; do
    grep -qxF "$expected" <<<"$content" || fail "$project.$version.nupkg lacks $expected"
  done
  if grep -qiE 'publiciz|Microsoft\.ML\.(Core|Data)\.dll' <<<"$content"; then fail "$project.$version.nupkg contains publicized ML.NET copies"; fi
  spec=$(nuspec "$project")
  if grep -qi 'publicize' <<<"$spec"; then fail "$project.nuspec names the Publicize tool"; fi
  for field in '<license type="expression">MIT</license>' '<readme>README.md</readme>' '<authors>MlNetConv contributors</authors>' '<repository type="git"'; do
    grep -qF "$field" <<<"$spec" || fail "$project.nuspec lacks $field"
  done
  symbols=$(unzip -Z1 "$packages/$project.$version.snupkg")
  grep -qxF "lib/net10.0/$project.pdb" <<<"$symbols" || fail "$project.$version.snupkg lacks the pdb"
done
spec=$(nuspec MlNetConv)
grep -qF '<dependency id="Microsoft.ML" version="[5.0.1]"' <<<"$spec" || fail "MlNetConv does not depend on exactly Microsoft.ML 5.0.1"
grep -qF '<dependency id="SkiaSharp" version="[2.88.9, 2.89.0)"' <<<"$spec" || fail "MlNetConv does not state SkiaSharp 2.88.x"
grep -qF "<dependency id=\"MlNetConv.Core\" version=\"$version\"" <<<"$spec" || fail "MlNetConv does not depend on MlNetConv.Core $version"
spec=$(nuspec MlNetConv.Hosting)
grep -qF "<dependency id=\"MlNetConv\" version=\"$version\"" <<<"$spec" || fail "MlNetConv.Hosting does not depend on MlNetConv $version"
grep -qF '<dependency id="Microsoft.ML.ImageAnalytics" version="[5.0.1]"' <<<"$spec" || fail "MlNetConv.Hosting does not depend on exactly Microsoft.ML.ImageAnalytics 5.0.1"

# ---- a user's projects, outside the repository
consumer="$work/consumer"
mkdir -p "$consumer"
# The local folder is added as a source; the configured sources (user and machine config) stay in the chain.
cat > "$consumer/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="local" value="$packages" />
  </packageSources>
</configuration>
XML
reference() { echo "    <PackageReference Include=\"$1\" Version=\"[$2]\" />"; }
project() { # NAME PROGRAM_CS PACKAGE_LINES
  mkdir -p "$consumer/$1"
  cp "$2" "$consumer/$1/Program.cs"
  awk -v packages="$3" '$0 == "@PACKAGES@" { print packages; next } { print }' "$here/template/Consumer.csproj.in" > "$consumer/$1/$1.csproj"
}
project Prepare "$here/Prepare/Program.cs" "$(reference MlNetConv "$version")"
project Pipeline "$repo/examples/Samples/Pipeline/Program.cs" "$(reference MlNetConv "$version")
$(reference Microsoft.ML.ImageAnalytics 5.0.1)
$(reference SkiaSharp 2.88.9)
$(reference SkiaSharp.NativeAssets.Linux.NoDependencies 2.88.9)"
project Worker "$repo/examples/Samples/Worker/Program.cs" "$(reference MlNetConv.Hosting "$version")"
project Engine "$repo/examples/Samples/Engine/Program.cs" "$(reference MlNetConv.Core "$version")"
project Gradients "$repo/examples/Samples/Gradients/Program.cs" "$(reference MlNetConv.Core "$version")"
project CustomArchitecture "$repo/examples/Samples/CustomArchitecture/Program.cs" "$(reference MlNetConv "$version")"
project Onnx "$repo/examples/Samples/Onnx/Program.cs" "$(reference MlNetConv "$version")
$(reference Microsoft.ML.OnnxConverter 0.23.1)
$(reference Microsoft.ML.OnnxTransformer 5.0.1)
$(reference Microsoft.ML.OnnxRuntime 1.31.1)"
cat > "$consumer/Consumer.slnx" <<XML
<Solution>
  <Project Path="Prepare/Prepare.csproj" />
  <Project Path="Pipeline/Pipeline.csproj" />
  <Project Path="Worker/Worker.csproj" />
  <Project Path="Engine/Engine.csproj" />
  <Project Path="Gradients/Gradients.csproj" />
  <Project Path="CustomArchitecture/CustomArchitecture.csproj" />
  <Project Path="Onnx/Onnx.csproj" />
</Solution>
XML

# A package of this version restored earlier (an older build) must not be used: drop the extracted copies, and check
# after the restore that the extracted packages are the ones just packed.
global=$(dotnet nuget locals global-packages --list | sed -n 's/^global-packages: *//p')
[ -n "$global" ] || fail "could not find the global packages folder"
for id in mlnetconv mlnetconv.core mlnetconv.hosting; do rm -rf "${global%/}/$id/$version"; done

step "restoring and building the consumer projects"
dotnet build "$consumer/Consumer.slnx" -c Release -v quiet -nologo
for project in MlNetConv.Core MlNetConv MlNetConv.Hosting; do
  id=$(tr '[:upper:]' '[:lower:]' <<<"$project")
  restored="${global%/}/$id/$version/$id.$version.nupkg.sha512"
  [ -f "$restored" ] || fail "$project $version was not restored into $global"
  packed=$(openssl dgst -sha512 -binary "$packages/$project.$version.nupkg" | base64 -w0)
  [ "$(cat "$restored")" = "$packed" ] || fail "the restored $project $version is not the package just packed"
done
run() { local name=$1; shift; dotnet "$consumer/$name/bin/Release/net10.0/$name.dll" "$@"; }
# check_accuracy SAMPLE OUTPUT SED_PATTERN MINIMUM: the accuracy a sample printed is there and plausible.
check_accuracy() {
  local accuracy
  accuracy=$(sed -n "$3" <<<"$2")
  [ -n "$accuracy" ] || fail "the $1 sample printed no test accuracy"
  awk -v a="$accuracy" -v m="$4" 'BEGIN { exit !(a >= m && a <= 1) }' || fail "the $1 sample's test accuracy $accuracy is not plausible (expected at least $4)"
}

# ---- the ML.NET sample on PNG files
images="$work/images"
step "exporting PNG files"
run Prepare "$repo/data/fashion-mnist-subset" "$images" 3000 500
runs="$work/run"
mkdir -p "$runs"
step "the README's ML.NET sample, 2 epochs on 3,000 PNG files"
output=$(cd "$runs" && run Pipeline "$images" "$images/train.tsv" "$images/test.tsv" 2 2>&1) || { echo "$output"; fail "the ML.NET sample exited non-zero"; }
echo "$output"
check_accuracy ML.NET "$output" 's/^test accuracy \([0-9.]*\),.*/\1/p' 0.65
grep -q '^Total params: 333,526' <<<"$output" || fail "the ML.NET sample printed no model summary of the textbook CNN"
grep -qE '^test/.*: predicted .+ \(.*%\), labelled ' <<<"$output" || fail "the ML.NET sample printed no prediction"
[ -s "$runs/model.zip" ] || fail "the ML.NET sample wrote no model.zip"

# ---- the worker sample scores an inbox with that model zip
step "the README's worker sample on an inbox of 12 PNG files"
inbox="$work/scoring/inbox" outbox="$work/scoring/outbox" staging="$work/scoring/staging"
mkdir -p "$inbox" "$staging"
(cd "$runs" && exec dotnet "$consumer/Worker/bin/Release/net10.0/Worker.dll" \
  --ImageScoring:ModelPath="$runs/model.zip" --ImageScoring:Inbox="$inbox" --ImageScoring:Outbox="$outbox" \
  --ImageScoring:BatchSize=5 --ImageScoring:PollInterval=00:00:00.200 --ImageScoring:MaxDegreeOfParallelism=2 \
  > "$work/worker.log" 2>&1) &
worker_pid=$!
dropped=()
while IFS=$'\t' read -r path _; do
  name="$(basename "$path")"
  cp "$images/$path" "$staging/$name" && mv "$staging/$name" "$inbox/$name"   # dropped atomically
  dropped+=("$name")
done < <(head -n 12 "$images/test.tsv")
for _ in $(seq 1 600); do
  kill -0 "$worker_pid" 2>/dev/null || { cat "$work/worker.log"; fail "the worker exited on its own"; }
  done_count=0
  [ -d "$outbox/done" ] && done_count=$(find "$outbox/done" -type f | wc -l)
  [ "$done_count" -ge "${#dropped[@]}" ] && break
  sleep 0.1
done
[ "$done_count" -eq "${#dropped[@]}" ] || { cat "$work/worker.log"; fail "the worker scored $done_count of ${#dropped[@]} images in 60 s"; }
kill -TERM "$worker_pid"
status=0; wait "$worker_pid" || status=$?
worker_pid=""
[ "$status" -eq 0 ] || { cat "$work/worker.log"; fail "the worker exited with $status on SIGTERM"; }
results=$(cat "$outbox"/results-*.jsonl)
[ "$(wc -l <<<"$results")" -eq "${#dropped[@]}" ] || fail "expected ${#dropped[@]} result lines, got: $results"
for name in "${dropped[@]}"; do
  [ "$(grep -c "\"file\":\"$name\"" <<<"$results")" -eq 1 ] || fail "$name is not in the results exactly once"
done
grep -q '"predicted_label":"[^"]' <<<"$results" || fail "the results hold no predicted labels"
[ ! -d "$outbox/failed" ] || [ -z "$(find "$outbox/failed" -type f)" ] || fail "the worker failed some images: $(ls "$outbox/failed")"
echo "$(head -n 1 <<<"$results")"

# ---- the engine sample
step "the README's engine sample, 1 epoch"
output=$(cd "$runs" && run Engine "$repo/data/fashion-mnist-subset" 1 2>&1) || { echo "$output"; fail "the engine sample exited non-zero"; }
echo "$output" | tail -n 4
check_accuracy engine "$output" 's/.*Accuracy = \([0-9.]*\),.*/\1/p' 0.65
grep -q '^reloaded: 333,526 parameters' <<<"$output" || fail "the engine sample did not reload its network"

# ---- the gradients sample: the course's worked example, then a short custom loop
step "the README's gradients sample, 60 steps"
output=$(cd "$runs" && run Gradients "$repo/data/fashion-mnist-subset" 60 2>&1) || { echo "$output"; fail "the gradients sample exited non-zero"; }
echo "$output"
# The course's results for X = [[1,6,2],[5,3,1],[7,0,4]], K = [[1,2],[-1,0]], dY = [[1,-2],[3,0.5]], worked by hand.
grep -qF 'Y  = [8, 7, 4, 5]' <<<"$output" || fail "the gradients sample's Y is not X ★ K"
grep -qF 'dK = [5.5, 11.5, 20, 3]' <<<"$output" || fail "the gradients sample's dK is not X ★ dY"
grep -qF 'dB = 2.5' <<<"$output" || fail "the gradients sample's dB is not Σ dY"
grep -qF 'dX = [1, 0, -4, 2, 8.5, 1, -3, -0.5, 0]' <<<"$output" || fail "the gradients sample's dX is not dY ★full rot180(K)"
grep -qE '^step 60: loss [0-9.]+' <<<"$output" || fail "the gradients sample's loop did not run 60 steps"

# ---- the custom-architecture sample
step "the README's custom-architecture sample, 1 epoch"
output=$(cd "$runs" && run CustomArchitecture "$repo/data/fashion-mnist-subset" 1 2>&1) || { echo "$output"; fail "the custom-architecture sample exited non-zero"; }
echo "$output" | tail -n 3
check_accuracy custom-architecture "$output" 's/^test accuracy \([0-9.]*\),.*/\1/p' 0.6
grep -q 'conv2d_1 (Conv2D) *(None, 32, 14, 14)' <<<"$output" || fail "the custom-architecture sample's summary lacks conv2d_1 at (32, 14, 14)"

# ---- the ONNX sample
step "the README's ONNX sample, 1 epoch"
output=$(cd "$runs" && run Onnx "$repo/data/fashion-mnist-subset" 1 2>&1) || { echo "$output"; fail "the ONNX sample exited non-zero"; }
echo "$output" | tail -n 2
check_accuracy ONNX "$output" 's/^model.onnx in ONNX Runtime: test accuracy \([0-9.]*\);.*/\1/p' 0.6
grep -q '^pipeline.onnx in ML.NET: 2000 of 2000 predicted labels as MlNetConv' <<<"$output" || fail "the converted pipeline's labels differ from MlNetConv's"
[ -s "$runs/model.onnx" ] && [ -s "$runs/pipeline.onnx" ] || fail "the ONNX sample wrote no model.onnx or pipeline.onnx"

for id in mlnetconv mlnetconv.core mlnetconv.hosting; do rm -rf "${global%/}/$id/$version"; done
step "passed"
