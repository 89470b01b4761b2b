// Every built-in recipe, registered in the order `bionas experiment --list` shows them.
import './single_vs_mixed.js';
import './reassign.js';
import './baselines.js';
import './grad_variance.js';
import './weights.js';
import './skip_dedup.js';
import './robustness.js';
