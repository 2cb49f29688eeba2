# shellcheck shell=bash
# Shared by the scripts of scripts/v1_5/eval/: sourced, not run.
#
# Environment (all optional):
#   MODEL_PATH   checkpoint, hub id or folder          (default liuhaotian/llava-v1.5-7b)
#   MODEL_BASE   base model for LoRA / projector-only checkpoints (default: none)
#   DATA_ROOT    LLaVA's eval data folder              (default ./playground/data/eval)
#   SPARSE       1 (default): prune, with SparseVLM unless --pruning-method names another
#                method; 0: the dense model (no pruning flag allowed; SCALE/BIAS ignored)
#   SCALE, BIAS  SparseVLM v1: k = rank * SCALE + BIAS (default: the benchmark's seed preset)
#   CONV_MODE    the prompt template (default vicuna_v1, LLaVA's scripts'; mistral_instruct for
#                llava-v1.6-mistral-7b); empty (CONV_MODE=) for the checkpoint's own chat
#                template (llava-hf and Qwen-VL checkpoints)
#   CKPT         the answers' name (default: last part of MODEL_PATH plus the pruning, e.g.
#                llava-v1.5-7b-sparse-s9-b6, -sparse-v1.5-r128, -fastv-r64, -dense)
#   SCORES_JSON  also save the scorer's metrics to this JSON file (scripts whose scorer can)
#   JUDGE        0: never call an LLM judge (MM-Vet, LLaVA-Bench), even if one is configured
#   PYTHON       interpreter (default: the active virtual environment's, else this
#                checkout's .venv made by scripts/setup.sh, else python / python3)
#   CUDA_VISIBLE_DEVICES  several ids (0,1,2,3): for the benchmarks LLaVA splits over GPUs
#                (and MME, POPE, TextVQA) one answer generator per GPU, each on its chunk of
#                the questions (N_i.jsonl files), merged in order; otherwise one process.
# Arguments go through to the answer generator (--device cpu, --dtype float32,
# --pruning-layers 1,2, --max_new_tokens N, --sparse-version v1.5 --retained-tokens 128,
# --pruning-method fastv --retained-tokens 64 ...). --scale/--bias are the same as SCALE/BIAS.
# With --sparse-version v1.5 or v2 the presets' --scale/--bias are not passed (those versions
# are set by --retained-tokens, default 192). Any method of llava/sparse/registry.py works with
# --pruning-method NAME [--retained-tokens N] [its own flags]; the answers are named after the
# method, the budget and the flags given.
# Rerunning the same command resumes: the generator keeps the answers (or chunk files) written.

# Globals set by eval_init: SCRIPT, BENCH, PRUNING (for messages), DATA_ROOT, MODEL_PATH, CKPT,
# PYTHON, REPO, ANSWER_ARGS (the generator's arguments but the files), SCORE_ARGS (scorer extras).

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)

# The pruning methods' own flags (METHOD.flags in llava/sparse/*.py but SparseVLM's, which are
# handled apart): they take a value and are part of the answers' name. A method's new flag
# belongs here (tests/scripts checks the registry against this list); one missing would still
# reach the generator, only not the answers' name.
_METHOD_FLAGS=" --fastv-k --fastv-ratio --pdrop-layers --pdrop-lambda --visionzip-dominant "
_METHOD_FLAGS+="--visionzip-contextual --dart-k --dart-tokens --mmr-k --mmr-ratio --mmr-lambda "
_METHOD_FLAGS+="--keep-ratio --random-seed "

die() {
    printf '%s: error: %s\n' "$SCRIPT" "$*" >&2
    exit 2
}

# _model_name PATH: LLaVA's get_model_name_from_path (the last path part; <parent>_checkpoint-N).
_model_name() {
    local path=${1%/} last parent
    last=${path##*/}
    if [[ $last == checkpoint-* && $path == */* ]]; then
        parent=${path%/*}
        printf '%s_%s' "${parent##*/}" "$last"
    else
        printf '%s' "$last"
    fi
}

# eval_init BENCH PRESET_SCALE PRESET_BIAS [generator arguments...]
eval_init() {
    SCRIPT=${0##*/}
    BENCH=$1
    local preset_scale=$2 preset_bias=$3
    shift 3
    MODEL_PATH=${MODEL_PATH:-liuhaotian/llava-v1.5-7b}
    DATA_ROOT=${DATA_ROOT:-./playground/data/eval}
    DATA_ROOT=${DATA_ROOT%/}
    if [[ -z ${PYTHON:-} ]]; then
        # The active environment, else the one scripts/setup.sh made for this checkout.
        if [[ -z ${VIRTUAL_ENV:-} && -x $REPO/.venv/bin/python ]]; then
            PYTHON=$REPO/.venv/bin/python
        else
            PYTHON=python
            command -v python >/dev/null 2>&1 || PYTHON=python3
        fi
    fi
    [[ ${JUDGE:-1} == 0 || ${JUDGE:-1} == 1 ]] ||
        die "JUDGE must be 0 (never call the judge) or 1, got '$JUDGE'"

    local sparse=${SPARSE:-1} version=v1 retained="" layers="" method="" name
    local scale=${SCALE:-} bias=${BIAS:-} cli_pruning="" sparsevlm_flags=""
    [[ $sparse == 0 || $sparse == 1 ]] ||
        die "SPARSE must be 0 (dense) or 1 (prune), got '$sparse'"
    local -a passthrough=() settings=()
    while (($#)); do
        name=${1%%=*}
        case $1 in
            --model-path | --model-path=*) die "$1: set MODEL_PATH instead" ;;
            --model-base | --model-base=*) die "$1: set MODEL_BASE instead" ;;
            --question-file* | --image-folder* | --answers-file*)
                die "$1: the script uses LLaVA's layout under DATA_ROOT;" \
                    "set DATA_ROOT (and CKPT for the answers name) instead" ;;
            --num-chunks* | --chunk-idx*)
                die "$1: set CUDA_VISIBLE_DEVICES=0,1,... to run one chunk per GPU" ;;
            --sparse) cli_pruning+=" $1"; sparsevlm_flags+=" $1" ;;
            --scale | --bias | --sparse-version | --retained-tokens | --pruning-layers | \
                --pruning-method)
                (($# >= 2)) || die "$1 needs a value"
                set -- "$1=$2" "${@:3}"
                continue ;;
            --scale=*) scale=${1#*=}; cli_pruning+=" --scale" ;;
            --bias=*) bias=${1#*=}; cli_pruning+=" --bias" ;;
            --sparse-version=*)
                version=${1#*=}; cli_pruning+=" --sparse-version"
                sparsevlm_flags+=" --sparse-version"; passthrough+=("$1") ;;
            --retained-tokens=*)
                retained=${1#*=}; cli_pruning+=" --retained-tokens"; passthrough+=("$1") ;;
            --pruning-layers=*) layers=${1#*=}; passthrough+=("$1") ;;
            --pruning-method=*) method=${1#*=} ;;
            *)
                if [[ $_METHOD_FLAGS == *" $name "* ]]; then
                    if [[ $1 != *=* ]]; then
                        (($# >= 2)) || die "$1 needs a value"
                        set -- "$1=$2" "${@:3}"
                        continue
                    fi
                    cli_pruning+=" $name"
                    settings+=("$1")
                fi
                passthrough+=("$1") ;;
        esac
        shift
    done

    if [[ $method == sparsevlm ]]; then
        method="" # the same as --sparse: SparseVLM, v1 with the benchmark's preset by default
    elif [[ $method == dense ]]; then
        [[ -z $cli_pruning ]] ||
            die "--pruning-method dense runs the dense model, but the arguments ask for" \
                "pruning:$cli_pruning"
        sparse=0 method=""
    fi
    local suffix
    ANSWER_ARGS=(--model-path "$MODEL_PATH")
    [[ -z ${MODEL_BASE:-} ]] || ANSWER_ARGS+=(--model-base "$MODEL_BASE")
    ANSWER_ARGS+=(--temperature 0)
    local conv_mode=${CONV_MODE-vicuna_v1}
    [[ -z $conv_mode ]] || ANSWER_ARGS+=(--conv-mode "$conv_mode")
    if [[ $sparse == 0 ]]; then
        [[ -z $cli_pruning && -z $method ]] ||
            die "SPARSE=0 runs the dense model, but the arguments ask for pruning:" \
                "${cli_pruning}${method:+ --pruning-method $method}"
        suffix=-dense
        PRUNING="dense"
    elif [[ -n $method ]]; then
        [[ -z $sparsevlm_flags ]] ||
            die "$sparsevlm_flags: SparseVLM's; --pruning-method $method is another method"
        [[ -z $scale && -z $bias ]] ||
            die "SCALE/BIAS (--scale/--bias) set SparseVLM v1's k; --pruning-method $method" \
                "takes --retained-tokens N and its own flags"
        ANSWER_ARGS+=(--pruning-method "$method")
        suffix=-$method${retained:+-r$retained}
        PRUNING="$method, its default settings"
        [[ -z $retained ]] || PRUNING="$method, $retained tokens"
    elif ((${#settings[@]})); then
        die "${settings[*]%%=*}: the setting(s) of another method than SparseVLM;" \
            "add --pruning-method NAME"
    elif [[ $version == v1 ]]; then
        [[ -z $retained ]] ||
            die "--retained-tokens sets a v1.5 / v2 preset: add --sparse-version v1.5 (or v2)"
        scale=${scale:-$preset_scale} bias=${bias:-$preset_bias}
        ANSWER_ARGS+=(--sparse --scale "$scale" --bias "$bias")
        suffix=-sparse-s$scale-b$bias
        PRUNING="SparseVLM v1, scale $scale, bias $bias"
    else
        [[ -z $scale && -z $bias ]] ||
            die "SCALE/BIAS (--scale/--bias) set v1's k; $version is set by --retained-tokens"
        ANSWER_ARGS+=(--sparse)
        suffix=-sparse-$version-r${retained:-192}
        PRUNING="SparseVLM $version, ${retained:-192} tokens"
    fi
    if [[ $sparse == 1 && -n $layers ]]; then
        suffix+=-layers${layers//,/-}
        PRUNING+=", layers $layers"
    fi
    local setting
    for setting in "${settings[@]}"; do # --fastv-k=3 -> -fastv-k3
        setting=${setting#--}
        suffix+=-${setting%%=*}${setting#*=}
        PRUNING+=", ${setting%%=*} ${setting#*=}"
    done
    suffix=${suffix//,/-}
    ANSWER_ARGS+=("${passthrough[@]}")
    CKPT=${CKPT:-$(_model_name "$MODEL_PATH")$suffix}
    SCORE_ARGS=() # read by the benchmark scripts
    if [[ -n ${SCORES_JSON:-} ]]; then
        # shellcheck disable=SC2034
        SCORE_ARGS=(--json-out "$SCORES_JSON")
    fi
}

# no_scores_json WHY: for the scripts whose scorer has no --json-out.
no_scores_json() {
    [[ -z ${SCORES_JSON:-} ]] || die "SCORES_JSON is not supported here: $*"
}

# _data_help SUBFOLDER: where LLaVA's docs/Evaluation.md says to get the files.
_data_help() {
    echo "LLaVA's docs/Evaluation.md: first download eval.zip"
    echo "  (https://drive.google.com/file/d/1atZSBBrAX54yYpxtVVW33zFvcnaHeFPy/view)"
    echo "  and extract it to $DATA_ROOT (it has the llava_*.jsonl question files); then"
    case $1 in
        pope)
            echo "  - POPE labels: coco/coco_pope_{adversarial,popular,random}.json from POPE"
            echo "    (https://github.com/AoiDragon/POPE/tree/e3e39262c85a6a83f26cf5094022a782cb0df58d/output/coco)"
            echo "    into $DATA_ROOT/pope/coco/"
            echo "  - COCO val2014 images (http://images.cocodataset.org/zips/val2014.zip)"
            echo "    into $DATA_ROOT/pope/val2014/" ;;
        MME)
            echo "  - MME_Benchmark_release_version (images and ground truth) from the MME authors"
            echo "    (https://github.com/BradyFU/Awesome-Multimodal-Large-Language-Models/tree/Evaluation)"
            echo "    into $DATA_ROOT/MME/ (their eval_tool/ too, optional: this script scores by itself)" ;;
        textvqa)
            echo "  - TextVQA_0.5.1_val.json (https://dl.fbaipublicfiles.com/textvqa/data/TextVQA_0.5.1_val.json)"
            echo "  - the train_val images (https://dl.fbaipublicfiles.com/textvqa/images/train_val_images.zip),"
            echo "    extracted to $DATA_ROOT/textvqa/train_images/" ;;
        gqa)
            echo "  - GQA's images and v1.2 questions (https://cs.stanford.edu/people/dorarad/gqa/download.html):"
            echo "    images into $DATA_ROOT/gqa/data/images/, testdev_balanced_questions.json into"
            echo "    $DATA_ROOT/gqa/data/ (this script scores as GQA's eval.py patched by LLaVA does)" ;;
        scienceqa)
            echo "  - images/, pid_splits.json and problems.json from data/scienceqa of"
            echo "    https://github.com/lupantech/ScienceQA, into $DATA_ROOT/scienceqa/" ;;
        mmbench)
            echo "  - mmbench_dev_20230712.tsv (https://download.openmmlab.com/mmclassification/datasets/mmbench/mmbench_dev_20230712.tsv)"
            echo "    into $DATA_ROOT/mmbench/" ;;
        mmbench_cn)
            echo "  - mmbench_dev_cn_20231003.tsv (https://download.openmmlab.com/mmclassification/datasets/mmbench/mmbench_dev_cn_20231003.tsv)"
            echo "    into $DATA_ROOT/mmbench_cn/ (LLaVA's docs say mmbench/, its script reads mmbench_cn/)" ;;
        vqav2)
            echo "  - COCO test2015 images (http://images.cocodataset.org/zips/test2015.zip)"
            echo "    into $DATA_ROOT/vqav2/test2015/" ;;
        vizwiz)
            echo "  - VizWiz test images (https://vizwiz.cs.colorado.edu/VizWiz_final/images/test.zip)"
            echo "    extracted to $DATA_ROOT/vizwiz/test/" ;;
        seed_bench)
            echo "  - SEED-Bench.json and the images and videos, as SEED-Bench's DATASET.md says"
            echo "    (https://github.com/AILab-CVC/SEED-Bench/blob/main/DATASET.md): images into"
            echo "    $DATA_ROOT/seed_bench/SEED-Bench-image/, each video's middle frame into"
            echo "    $DATA_ROOT/seed_bench/SEED-Bench-video-image/ (eval.zip's extract_video_frames.py)" ;;
        mm-vet)
            echo "  - mm-vet.zip (https://github.com/yuweihao/MM-Vet/releases/download/v1/mm-vet.zip)"
            echo "    extracted to $DATA_ROOT/mm-vet/ (images/ and mm-vet.json; LLaVA's docs say mmvet/,"
            echo "    its script reads mm-vet/)" ;;
        llava-bench-in-the-wild)
            echo "  - the files of https://huggingface.co/datasets/liuhaotian/llava-bench-in-the-wild"
            echo "    (questions.jsonl, context.jsonl, answers_gpt4.jsonl, images/)"
            echo "    into $DATA_ROOT/llava-bench-in-the-wild/" ;;
    esac
    echo "For a quick try without downloads, write small synthetic benchmarks in the same layout"
    echo "(their scores are not comparable with published ones):"
    echo "  python -m llava.synthetic --root $DATA_ROOT"
}

# require_data SUBFOLDER PATH... (a PATH ending in / must be a folder, else a file)
require_data() {
    local sub=$1 path
    shift
    local -a missing=()
    for path in "$@"; do
        if [[ $path == */ ]]; then
            [[ -d $path ]] || missing+=("$path")
        else
            [[ -f $path ]] || missing+=("$path")
        fi
    done
    ((${#missing[@]} == 0)) && return 0
    {
        echo "$SCRIPT: error: evaluation data not found (DATA_ROOT=$DATA_ROOT):"
        printf '  missing %s\n' "${missing[@]}"
        _data_help "$sub"
    } >&2
    exit 1
}

_CHUNK_PIDS=()
_stop_chunks() {
    echo "$SCRIPT: interrupted: stopping the chunk processes (rerun to resume)" >&2
    kill "${_CHUNK_PIDS[@]}" 2>/dev/null || true
    wait "${_CHUNK_PIDS[@]}" 2>/dev/null || true
    exit 130
}

# run_generator [--chunks] MODULE QUESTION_FILE IMAGE_FOLDER ANSWERS_FILE [generator flags...]
# One answer generator (llava.eval.MODULE) on the whole question file. With --chunks and
# several GPUs in CUDA_VISIBLE_DEVICES: one per GPU, each on its chunk (N_i.jsonl beside a
# merge.jsonl, as LLaVA's scripts lay them out, else in a folder named after the answers),
# concatenated in order into ANSWERS_FILE. An empty IMAGE_FOLDER is not passed (MMBench).
run_generator() {
    local chunked=0
    if [[ $1 == --chunks ]]; then
        chunked=1
        shift
    fi
    local module=$1 questions=$2 images=$3 answers=$4
    shift 4
    local -a generator=("$PYTHON" -m "$module" "${ANSWER_ARGS[@]}" --question-file "$questions")
    [[ -z $images ]] || generator+=(--image-folder "$images")
    generator+=("$@")
    local -a gpus=() ids=()
    local id
    IFS=',' read -ra ids <<<"${CUDA_VISIBLE_DEVICES:-}"
    for id in "${ids[@]}"; do
        id=${id//[[:space:]]/}
        [[ -z $id ]] || gpus+=("$id")
    done
    echo "$BENCH: $CKPT ($PRUNING) -> $answers"
    mkdir -p "$(dirname "$answers")"
    if ((chunked == 0 || ${#gpus[@]} <= 1)); then
        "${generator[@]}" --answers-file "$answers"
        return
    fi

    local n=${#gpus[@]} idx status
    local chunks=${answers%.jsonl}
    [[ ${answers##*/} != merge.jsonl ]] || chunks=$(dirname "$answers")
    mkdir -p "$chunks"
    echo "$BENCH: $n chunks on GPUs ${gpus[*]} -> $chunks/${n}_<i>.jsonl"
    _CHUNK_PIDS=()
    trap _stop_chunks INT TERM
    for ((idx = 0; idx < n; idx++)); do
        CUDA_VISIBLE_DEVICES=${gpus[idx]} "${generator[@]}" \
            --answers-file "$chunks/${n}_$idx.jsonl" --num-chunks "$n" --chunk-idx "$idx" &
        _CHUNK_PIDS+=("$!")
    done
    local -a failed=()
    for ((idx = 0; idx < n; idx++)); do
        status=0
        wait "${_CHUNK_PIDS[idx]}" || status=$?
        ((status == 0)) || failed+=("chunk $idx of $n (GPU ${gpus[idx]}) exited with status $status")
    done
    trap - INT TERM
    if ((${#failed[@]})); then
        printf '%s: error: %s\n' "$SCRIPT" "${failed[@]}" >&2
        echo "$SCRIPT: not merged nor scored; rerun the same command to resume the chunks" >&2
        exit 1
    fi
    local merged="$answers.merging.$$"
    : >"$merged"
    for ((idx = 0; idx < n; idx++)); do
        cat "$chunks/${n}_$idx.jsonl" >>"$merged"
    done
    mv -f "$merged" "$answers"
    echo "$BENCH: merged $n chunk files into $answers"
}

# run_loader QUESTION_FILE IMAGE_FOLDER ANSWERS_FILE: model_vqa_loader, one chunk per GPU.
run_loader() {
    run_generator --chunks llava.eval.model_vqa_loader "$@"
}

# judge_configured: an LLM judge endpoint is set in the environment (the variables
# llava.benchmarks.judge reads) and JUDGE is not 0.
judge_configured() {
    [[ ${JUDGE:-1} != 0 ]] || return 1
    [[ -n ${LLAVA_JUDGE_BASE_URL:-}${OPENAI_BASE_URL:-}${LLAVA_JUDGE_API_KEY:-}${OPENAI_API_KEY:-} ]]
}

# judge_help: how to configure the judge, for the scripts that stop before it.
judge_help() {
    echo "  The judge is any OpenAI-compatible endpoint: set LLAVA_JUDGE_BASE_URL (e.g."
    echo "  https://api.openai.com/v1) and LLAVA_JUDGE_API_KEY (or OPENAI_BASE_URL / OPENAI_API_KEY),"
    echo "  optionally LLAVA_JUDGE_MODEL, and rerun this command: the answers are kept, and every"
    echo "  judgement is cached, so a rerun never pays twice."
}
