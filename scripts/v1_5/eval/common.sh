# shellcheck shell=bash
# Shared by scripts/v1_5/eval/{mme,pope,textvqa,dense}.sh: sourced, not run.
#
# Environment (all optional):
#   MODEL_PATH   checkpoint, hub id or folder          (default liuhaotian/llava-v1.5-7b)
#   MODEL_BASE   base model for LoRA / projector-only checkpoints (default: none)
#   DATA_ROOT    LLaVA's eval data folder              (default ./playground/data/eval)
#   SPARSE       1: SparseVLM (default); 0: the dense model (no --sparse; SCALE/BIAS ignored)
#   SCALE, BIAS  SparseVLM v1: k = rank * SCALE + BIAS (default: the benchmark's seed preset)
#   CKPT         answers name: <bench>/answers/$CKPT.jsonl (default: last part of MODEL_PATH
#                plus the pruning, e.g. llava-v1.5-7b-sparse-s9-b6, -sparse-v1.5-r128, -dense)
#   SCORES_JSON  also save the scorer's metrics to this JSON file
#   PYTHON       interpreter (default: python, else python3)
#   CUDA_VISIBLE_DEVICES  several ids (0,1,2,3): one model_vqa_loader per GPU, each on its
#                chunk of the questions (<bench>/answers/$CKPT/<N>_<i>.jsonl), merged in order
#                into <bench>/answers/$CKPT.jsonl; unset or a single id: one process.
# Arguments go through to model_vqa_loader (--device cpu, --dtype float32, --pruning-layers 1,2,
# --max_new_tokens N, --sparse-version v1.5 --retained-tokens 128 ...). --scale/--bias are the
# same as SCALE/BIAS. With --sparse-version v1.5 or v2 the presets' --scale/--bias are not passed
# (those versions are set by --retained-tokens, default 192).
# Rerunning the same command resumes: model_vqa_loader keeps the answers (or chunk files)
# already written.

# Globals set by eval_init: SCRIPT, BENCH, PRUNING (for messages), DATA_ROOT, MODEL_PATH, CKPT,
# PYTHON, LOADER_ARGS (model_vqa_loader's arguments but the files), SCORE_ARGS (scorer extras).

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

# eval_init BENCH PRESET_SCALE PRESET_BIAS [model_vqa_loader arguments...]
eval_init() {
    SCRIPT=${0##*/}
    BENCH=$1
    local preset_scale=$2 preset_bias=$3
    shift 3
    MODEL_PATH=${MODEL_PATH:-liuhaotian/llava-v1.5-7b}
    DATA_ROOT=${DATA_ROOT:-./playground/data/eval}
    DATA_ROOT=${DATA_ROOT%/}
    if [[ -z ${PYTHON:-} ]]; then
        PYTHON=python
        command -v python >/dev/null 2>&1 || PYTHON=python3
    fi

    local sparse=${SPARSE:-1} version=v1 retained="" layers=""
    local scale=${SCALE:-} bias=${BIAS:-} cli_pruning=""
    [[ $sparse == 0 || $sparse == 1 ]] ||
        die "SPARSE must be 0 (dense) or 1 (SparseVLM), got '$sparse'"
    local -a passthrough=()
    while (($#)); do
        case $1 in
            --model-path | --model-path=*) die "$1: set MODEL_PATH instead" ;;
            --model-base | --model-base=*) die "$1: set MODEL_BASE instead" ;;
            --question-file* | --image-folder* | --answers-file*)
                die "$1: the script uses LLaVA's layout under DATA_ROOT;" \
                    "set DATA_ROOT (and CKPT for the answers name) instead" ;;
            --num-chunks* | --chunk-idx*)
                die "$1: set CUDA_VISIBLE_DEVICES=0,1,... to run one chunk per GPU" ;;
            --sparse) cli_pruning+=" $1" ;;
            --scale | --bias | --sparse-version | --retained-tokens | --pruning-layers)
                (($# >= 2)) || die "$1 needs a value"
                set -- "$1=$2" "${@:3}"
                continue ;;
            --scale=*) scale=${1#*=}; cli_pruning+=" --scale" ;;
            --bias=*) bias=${1#*=}; cli_pruning+=" --bias" ;;
            --sparse-version=*)
                version=${1#*=}; cli_pruning+=" --sparse-version"; passthrough+=("$1") ;;
            --retained-tokens=*)
                retained=${1#*=}; cli_pruning+=" --retained-tokens"; passthrough+=("$1") ;;
            --pruning-layers=*) layers=${1#*=}; passthrough+=("$1") ;;
            *) passthrough+=("$1") ;;
        esac
        shift
    done

    local suffix
    LOADER_ARGS=(--model-path "$MODEL_PATH")
    [[ -z ${MODEL_BASE:-} ]] || LOADER_ARGS+=(--model-base "$MODEL_BASE")
    LOADER_ARGS+=(--temperature 0 --conv-mode vicuna_v1)
    if [[ $sparse == 0 ]]; then
        [[ -z $cli_pruning ]] ||
            die "SPARSE=0 runs the dense model, but the arguments ask for pruning:$cli_pruning"
        suffix=-dense
        PRUNING="dense"
    elif [[ $version == v1 ]]; then
        [[ -z $retained ]] ||
            die "--retained-tokens sets a v1.5 / v2 preset: add --sparse-version v1.5 (or v2)"
        scale=${scale:-$preset_scale} bias=${bias:-$preset_bias}
        LOADER_ARGS+=(--sparse --scale "$scale" --bias "$bias")
        suffix=-sparse-s$scale-b$bias
        PRUNING="SparseVLM v1, scale $scale, bias $bias"
    else
        [[ -z $scale && -z $bias ]] ||
            die "SCALE/BIAS (--scale/--bias) set v1's k; $version is set by --retained-tokens"
        LOADER_ARGS+=(--sparse)
        suffix=-sparse-$version-r${retained:-192}
        PRUNING="SparseVLM $version, ${retained:-192} tokens"
    fi
    if [[ $sparse == 1 && -n $layers ]]; then
        suffix+=-layers${layers//,/-}
        PRUNING+=", layers $layers"
    fi
    LOADER_ARGS+=("${passthrough[@]}")
    CKPT=${CKPT:-$(_model_name "$MODEL_PATH")$suffix}
    SCORE_ARGS=()  # read by the benchmark scripts
    if [[ -n ${SCORES_JSON:-} ]]; then
        # shellcheck disable=SC2034
        SCORE_ARGS=(--json-out "$SCORES_JSON")
    fi
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

# run_loader QUESTION_FILE IMAGE_FOLDER ANSWERS_FILE
run_loader() {
    local questions=$1 images=$2 answers=$3
    local -a loader=("$PYTHON" -m llava.eval.model_vqa_loader "${LOADER_ARGS[@]}"
        --question-file "$questions" --image-folder "$images")
    local -a gpus=() ids=()
    local id
    IFS=',' read -ra ids <<<"${CUDA_VISIBLE_DEVICES:-}"
    for id in "${ids[@]}"; do
        id=${id//[[:space:]]/}
        [[ -z $id ]] || gpus+=("$id")
    done
    echo "$BENCH: $CKPT ($PRUNING) -> $answers"
    mkdir -p "$(dirname "$answers")"
    if ((${#gpus[@]} <= 1)); then
        "${loader[@]}" --answers-file "$answers"
        return
    fi

    local n=${#gpus[@]} idx status
    local chunks=${answers%.jsonl}
    mkdir -p "$chunks"
    echo "$BENCH: $n chunks on GPUs ${gpus[*]} -> $chunks/${n}_<i>.jsonl"
    _CHUNK_PIDS=()
    trap _stop_chunks INT TERM
    for ((idx = 0; idx < n; idx++)); do
        CUDA_VISIBLE_DEVICES=${gpus[idx]} "${loader[@]}" --answers-file "$chunks/${n}_$idx.jsonl" \
            --num-chunks "$n" --chunk-idx "$idx" &
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
