// Every built-in recipe, registered in the order `bionas experiment --list` shows them.
import './single_vs_mixed.js';
