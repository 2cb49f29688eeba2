"""Constants shared with LLaVA (same names and values, so LLaVA code imports work unchanged)."""

CONTROLLER_HEART_BEAT_EXPIRATION = 30
WORKER_HEART_BEAT_INTERVAL = 15

LOGDIR = "."

# Model constants
IGNORE_INDEX = -100
IMAGE_TOKEN_INDEX = -200  # placeholder id in input_ids where the image features are spliced in
DEFAULT_IMAGE_TOKEN = "<image>"
DEFAULT_IMAGE_PATCH_TOKEN = "<im_patch>"
DEFAULT_IM_START_TOKEN = "<im_start>"
DEFAULT_IM_END_TOKEN = "<im_end>"
IMAGE_PLACEHOLDER = "<image-placeholder>"
