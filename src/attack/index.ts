// Every attack of bionas, registered by importing its file (each file calls registerAttack).
// Placeholder on this branch: the attacks come from their own branches, and this file then
// imports them all (fgsm, pgd, tpgd, apgd, square, onepixel, transfer).
export {};
