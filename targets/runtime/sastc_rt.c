/* sastc_rt.c - the runtime API: bind a model to a state buffer, step it, classify. */
#include "sastc_internal.h"

#if defined(SASTC_ARM_DSP)
#include "sastc_arm.h"
#endif

#define SASTC_READY 0x53415354u /* "SAST" */

const char *sastc_status_string(sastc_status status)
{
    switch (status) {
#define SASTC_STATUS(name, value, message) \
    case name:                             \
        return message;
#include "sastc_status.def"
#undef SASTC_STATUS
    default:
        return "unknown sastc status code";
    }
}

static uint32_t max_u32(uint32_t a, uint32_t b)
{
    return a > b ? a : b;
}

void sastc_plan_layout(const sastc_model *model, sastc_layout *layout)
{
    uint32_t l, u_words = 0, bit_words = 0, flag_words = 0, most = 0, most_flushing = 0;
    for (l = 0; l < model->num_layers; ++l) { /* u (c): n words (aligned), bits: ceil(n / 32) */
        const uint32_t n = sastc_neurons(&model->layers[l]);
        u_words += sastc_state_words_of(&model->layers[l]);
        bit_words += sastc_bit_words(n);
        flag_words += sastc_flag_words(n);
        most = max_u32(most, n);
        if (model->layers[l].flush_events != UINT32_MAX)
            most_flushing = max_u32(most_flushing, n);
    }
    layout->bits_offset = u_words;
    layout->logits_offset = layout->bits_offset + bit_words;
    layout->touched_offset = layout->logits_offset + model->num_classes;
    layout->acc32_offset = sastc_align_words(layout->touched_offset + flag_words);
    layout->acc16_offset = layout->acc32_offset + sastc_align_words(most_flushing);
    layout->total_words = layout->acc16_offset + (most + 1u) / 2u + SASTC_ALIGN_WORDS - 1u;
}

/* state[i] = 0 for i < count. */
static void zero_words(int32_t *state, uint32_t count)
{
    uint32_t i = 0;
#if defined(SASTC_ARM_DSP)
    i = count / 4u * 4u;
    sastc_arm_zero4(state, i);
#endif
    for (; i < count; ++i)
        state[i] = 0;
}

size_t sastc_state_bytes(const sastc_model *model)
{
    sastc_layout layout;
    if (sastc_check_model(model) != SASTC_OK)
        return 0u;
    sastc_plan_layout(model, &layout);
    return (size_t)layout.total_words * 4u;
}

sastc_status sastc_init(sastc_ctx *ctx, const sastc_model *model, void *state, size_t state_bytes)
{
    sastc_layout layout;
    sastc_status status;
    if (ctx == NULL || model == NULL || state == NULL)
        return SASTC_ERR_NULL_ARGUMENT;
    ctx->ready = 0u;
    status = sastc_check_model(model);
    if (status != SASTC_OK)
        return status;
    sastc_plan_layout(model, &layout);
    if (state_bytes / 4u < layout.total_words)
        return SASTC_ERR_STATE_TOO_SMALL;
    if ((uintptr_t)state % 4u != 0u)
        return SASTC_ERR_STATE_ALIGNMENT;
    ctx->model = model;
    /* the arrays start at the first 16-byte boundary (total_words has the slack) */
    ctx->state = (int32_t *)state + (16u - (uintptr_t)state % 16u) % 16u / 4u;
    ctx->ready = SASTC_READY;
    zero_words(ctx->state, layout.total_words - (SASTC_ALIGN_WORDS - 1u)); /* sums too */
    return sastc_reset(ctx);
}

sastc_status sastc_reset(sastc_ctx *ctx)
{
    sastc_layout layout;
    if (ctx == NULL)
        return SASTC_ERR_NULL_ARGUMENT;
    if (ctx->ready != SASTC_READY)
        return SASTC_ERR_NOT_INITIALISED;
    sastc_plan_layout(ctx->model, &layout);
    /* u = 0, spikes = 0, logits = 0, no block touched; the sums are zero after every step */
    zero_words(ctx->state, layout.acc32_offset);
    ctx->steps = 0u;
    return SASTC_OK;
}

/* Run every layer once: scatter its input events, then its neuron rule. */
static void step_layers(const sastc_model *model, int32_t *state, const uint8_t *frame,
                        uint32_t step)
{
    sastc_layout layout;
    const uint32_t *input_bits = NULL;
    int32_t *u = state, *logits;
    uint32_t *bits, *touched;
    sastc_acc acc;
    uint32_t l;
    sastc_plan_layout(model, &layout);
    bits = (uint32_t *)(state + layout.bits_offset);
    touched = (uint32_t *)(state + layout.touched_offset);
    logits = state + layout.logits_offset;
    acc.wide = state + layout.acc32_offset;
    acc.narrow = (int16_t *)(void *)(state + layout.acc16_offset);
    for (l = 0; l < model->num_layers; ++l) { /* input events -> acc -> neurons -> spikes */
        const sastc_layer *layer = &model->layers[l];
        const uint32_t n = sastc_neurons(layer);
        const int wide = l == 0u ? sastc_scatter_frame(layer, acc, frame, model->input_clip)
                                 : sastc_scatter_spikes(layer, acc, input_bits);
        if (!sastc_spiking(layer)) {
            sastc_update_li(layer, u, acc, wide, logits);
        } else {
            sastc_update_lif(layer, u, acc, wide, bits, touched, step);
            if (l + 1u == model->num_layers)
                sastc_count_spikes(bits, n, logits);
        }
        input_bits = bits;
        u += sastc_state_words_of(layer);
        bits += sastc_bit_words(n);
        touched += sastc_flag_words(n);
    }
}

sastc_status sastc_step(sastc_ctx *ctx, const uint8_t *frame)
{
    if (ctx == NULL || frame == NULL)
        return SASTC_ERR_NULL_ARGUMENT;
    if (ctx->ready != SASTC_READY)
        return SASTC_ERR_NOT_INITIALISED;
    if (ctx->steps >= ctx->model->max_steps)
        return SASTC_ERR_TOO_MANY_STEPS;
    step_layers(ctx->model, ctx->state, frame, ctx->steps);
    ctx->steps += 1u;
    return SASTC_OK;
}

sastc_status sastc_logits(const sastc_ctx *ctx, const int32_t **logits)
{
    sastc_layout layout;
    if (ctx == NULL || logits == NULL)
        return SASTC_ERR_NULL_ARGUMENT;
    if (ctx->ready != SASTC_READY)
        return SASTC_ERR_NOT_INITIALISED;
    sastc_plan_layout(ctx->model, &layout);
    *logits = ctx->state + layout.logits_offset;
    return SASTC_OK;
}

uint32_t sastc_argmax(const int32_t *values, uint32_t count)
{
    uint32_t i, best = 0;
    for (i = 1; i < count; ++i) /* strictly greater: ties keep the lowest index */
        if (values[i] > values[best])
            best = i;
    return best;
}

sastc_status sastc_classify(sastc_ctx *ctx, const uint8_t *frames, uint32_t *class_index)
{
    const int32_t *logits;
    sastc_status status = sastc_reset(ctx);
    uint32_t t, frame_bytes;
    if (status != SASTC_OK)
        return status;
    if (frames == NULL || class_index == NULL)
        return SASTC_ERR_NULL_ARGUMENT;
    frame_bytes = (uint32_t)ctx->model->layers[0].in_c * ctx->model->layers[0].in_h *
                  ctx->model->layers[0].in_w;
    for (t = 0; t < ctx->model->time_bins && status == SASTC_OK; ++t) /* frames [T][C][H][W] */
        status = sastc_step(ctx, frames + (size_t)t * frame_bytes);
    if (status == SASTC_OK)
        status = sastc_logits(ctx, &logits);
    if (status == SASTC_OK)
        *class_index = sastc_argmax(logits, ctx->model->num_classes);
    return status;
}

/* The state words of layer `layer`'s membranes and spike bits. */
static sastc_status layer_state(const sastc_ctx *ctx, uint32_t layer, int32_t **u, uint32_t **bits)
{
    sastc_layout layout;
    uint32_t l, u_offset = 0, bits_offset = 0;
    if (ctx == NULL)
        return SASTC_ERR_NULL_ARGUMENT;
    if (ctx->ready != SASTC_READY)
        return SASTC_ERR_NOT_INITIALISED;
    if (layer >= ctx->model->num_layers)
        return SASTC_ERR_LAYER_INDEX;
    for (l = 0; l < layer; ++l) { /* offsets: the earlier layers' membranes and bits */
        u_offset += sastc_state_words_of(&ctx->model->layers[l]);
        bits_offset += sastc_bit_words(sastc_neurons(&ctx->model->layers[l]));
    }
    sastc_plan_layout(ctx->model, &layout);
    *u = ctx->state + u_offset;
    *bits = (uint32_t *)(ctx->state + layout.bits_offset + bits_offset);
    return SASTC_OK;
}

sastc_status sastc_layer_spikes(const sastc_ctx *ctx, uint32_t layer, const uint32_t **bits)
{
    int32_t *u;
    uint32_t *words;
    sastc_status status;
    if (bits == NULL)
        return SASTC_ERR_NULL_ARGUMENT;
    status = layer_state(ctx, layer, &u, &words);
    if (status == SASTC_OK && !sastc_spiking(&ctx->model->layers[layer]))
        status = SASTC_ERR_NOT_SPIKING;
    if (status == SASTC_OK)
        *bits = words;
    return status;
}

sastc_status sastc_layer_membranes(const sastc_ctx *ctx, uint32_t layer, const int32_t **u)
{
    int32_t *values;
    uint32_t *words;
    sastc_status status;
    if (u == NULL)
        return SASTC_ERR_NULL_ARGUMENT;
    status = layer_state(ctx, layer, &values, &words);
    if (status == SASTC_OK)
        *u = values;
    return status;
}
