// Every attack of this folder; importing this module registers them all (the CLI does).
import './fgsm.js';
import './pgd.js';
import './tpgd.js';
import './apgd.js';
import './square.js';
import './onepixel.js';
import './transfer.js';
