/* sastc_check.c - consistency checks of a model table, run once by sastc_init.
 *
 * The emitter already proved the value ranges (no int32 overflow); these
 * checks catch a model.h edited by hand or built for another runtime.
 */
#include "sastc_internal.h"

/* Spatial output size of a convolution: (in + 2p - k) / s + 1 (0 if the kernel does not fit). */
static uint32_t conv_output(uint32_t in, uint32_t k, uint32_t s, uint32_t p)
{
    return in + 2u * p >= k ? (in + 2u * p - k) / s + 1u : 0u;
}

/* Slot of kernel column kx in the weight layout: phases kx % s in order, kx descending
 * within a phase (mirror of c_codegen.kx_order). */
static uint32_t kx_slot(uint32_t kx, uint32_t k, uint32_t s)
{
    uint32_t phase, slot = 0;
    for (phase = 0; phase < kx % s; ++phase) /* the taps of the earlier phases */
        slot += (k - phase + s - 1u) / s;
    return slot + (k - kx % s + s - 1u) / s - 1u - kx / s;
}

/* Span of input coordinate y of an axis (see sastc_span); mirror of c_codegen.spans and
 * c_codegen.span_offsets. `rows`: the row table (else the columns, taps in slot order). */
static sastc_span expected_span(const sastc_layer *layer, uint32_t y, uint32_t size,
                                uint32_t outputs, int rows)
{
    const uint32_t k = layer->kernel, s = layer->stride, pooled = y / layer->pool;
    const uint32_t padded = pooled + layer->padding, cout = layer->out_c;
    uint32_t first, end, tap;
    sastc_span span = {0u, 0u, 0u};
    if (pooled >= size / layer->pool)
        return span; /* dropped pooling edge */
    if (layer->op == SASTC_OP_DENSE) { /* input row (py * pooled_w + px) * C + c */
        span.weights = pooled * (rows ? layer->in_w / layer->pool : 1u) * layer->in_c * cout;
        span.count = 1u;
        return span;
    }
    first = padded >= k ? (padded - k) / s + 1u : 0u;
    end = padded / s + 1u < outputs ? padded / s + 1u : outputs;
    if (end > first) {
        tap = padded - s * first; /* ky (rows) or kx (columns) of the first output */
        span.sums = first * (rows ? layer->out_w : 1u) * cout;
        span.weights = (rows ? tap * k : kx_slot(tap, k, s)) * cout;
        span.count = end - first;
    }
    return span;
}

/* The span table of one axis matches the layer's geometry. */
static int spans_ok(const sastc_layer *layer, const sastc_span *table, uint32_t size,
                    uint32_t outputs, int rows)
{
    uint32_t y;
    if (table == NULL)
        return 0;
    for (y = 0; y < size; ++y) { /* table[y] == the span the geometry gives */
        const sastc_span want = expected_span(layer, y, size, outputs, rows);
        if (table[y].sums != want.sums || table[y].weights != want.weights ||
            table[y].count != want.count)
            return 0;
    }
    return 1;
}

/* The neuron fields: widths within what the int32 arithmetic supports. */
static int neuron_ok(const sastc_layer *layer)
{
    const uint32_t mb = layer->membrane_bits, shift = layer->leak_shift;
    if (mb < 2u || mb > 31u || shift > 30u || layer->frac_bits > 30u || mb - 1u + shift > 31u)
        return 0;
    if (layer->beta_q < 0 || layer->beta_q > (int32_t)(1u << shift))
        return 0;
    if (layer->alpha_q < 0 || layer->alpha_q > (int32_t)(1u << shift) ||
        (layer->alpha_q != 0 && !sastc_has_current(layer)))
        return 0;
    if (layer->reset > SASTC_RESET_SUBTRACT ||
        (layer->neuron == SASTC_NEURON_IF && layer->beta_q != (int32_t)(1u << shift)))
        return 0;
    if (layer->flush_events == 0u)
        return 0;
    if (layer->bias_q == NULL || (sastc_spiking(layer) && layer->theta_q == NULL))
        return 0;
    return layer->neuron == SASTC_NEURON_LIF || layer->neuron == SASTC_NEURON_LI ||
           layer->neuron == SASTC_NEURON_CUBA || layer->neuron == SASTC_NEURON_IF;
}

/* The synapse fields: weight format, pooling and output shape. */
static int synapse_ok(const sastc_layer *layer)
{
    const uint32_t k = layer->pool;
    if (layer->weight_bits < 2u || layer->weight_bits > 8u || layer->weights == NULL)
        return 0;
#if defined(SASTC_ARM_DSP)
    if ((uintptr_t)layer->weights % 4u != 0u) /* sastc_arm.h loads words of two weights */
        return 0;
#endif
    if (k < 1u || layer->in_h < k || layer->in_w < k || layer->in_c == 0u || layer->out_c == 0u)
        return 0;
    if (layer->op == SASTC_OP_CONV) {
        if (layer->kernel == 0u || layer->stride == 0u ||
            layer->out_h != conv_output(layer->in_h / k, layer->kernel, layer->stride,
                                        layer->padding) ||
            layer->out_w != conv_output(layer->in_w / k, layer->kernel, layer->stride,
                                        layer->padding))
            return 0;
    } else if (layer->op != SASTC_OP_DENSE || layer->out_h != 1u || layer->out_w != 1u) {
        return 0;
    }
    return spans_ok(layer, layer->row_spans, layer->in_h, layer->out_h, 1) &&
           spans_ok(layer, layer->col_spans, layer->in_w, layer->out_w, 0);
}

/* Layer l reads what layer l - 1 writes; only the last layer may be LI, and it is a vector. */
static int chain_ok(const sastc_model *model, uint32_t l)
{
    const sastc_layer *layer = &model->layers[l];
    const int last = l + 1u == model->num_layers;
    if (!last && !sastc_spiking(layer))
        return 0;
    if (last && (layer->out_h != 1u || layer->out_w != 1u || layer->out_c != model->num_classes))
        return 0;
    if (l == 0u)
        return 1;
    return layer->in_c == model->layers[l - 1u].out_c &&
           layer->in_h == model->layers[l - 1u].out_h && layer->in_w == model->layers[l - 1u].out_w;
}

sastc_status sastc_check_model(const sastc_model *model)
{
    sastc_layout layout;
    uint32_t l;
    if (model == NULL)
        return SASTC_ERR_NULL_ARGUMENT;
    if (model->abi_version != SASTC_ABI_VERSION)
        return SASTC_ERR_ABI_VERSION;
    if (model->layers == NULL || model->num_layers == 0u || model->num_classes == 0u ||
        model->input_clip == 0u || model->input_clip > 255u || model->time_bins == 0u ||
        model->time_bins > model->max_steps)
        return SASTC_ERR_BAD_MODEL;
    for (l = 0; l < model->num_layers; ++l) /* every layer valid and chained */
        if (!neuron_ok(&model->layers[l]) || !synapse_ok(&model->layers[l]) || !chain_ok(model, l))
            return SASTC_ERR_BAD_MODEL;
    sastc_plan_layout(model, &layout);
    return model->state_bytes == layout.total_words * 4u ? SASTC_OK : SASTC_ERR_BAD_MODEL;
}
